#!/usr/bin/python3.11
"""Same-recipe PyTorch trainer for ResNet-20 on CIFAR-10 (JPEG copy).

Trains the network `autorep train --model resnet20 --dataset cifar10` builds,
with the same recipe, on the same images, so that an accuracy gap between
`autorep train` and PyTorch can be told apart from a ceiling of the lossy
JPEG copy of CIFAR-10 (issue 2). Run it with Debian's torch 1.13:

    /usr/bin/python3.11 scripts/torch-resnet20-cifar.py --epochs 60 \\
        --out runs/torch-resnet20.pt --export runs/torch-resnet20.safetensors --json

No torchvision: the data pipeline is tarfile + PIL + numpy.

What is replicated, with the Go source it follows:

Data (data/load.go, data/folder.go, data/tree.go, data/set.go)
  * $AUTOREP_DATA/cifar-10-jpg.tar.gz (or cifar-10-jpg/ in --data DIR):
    ImageFolder train/<class>/*.jpg, test/<class>/*.jpg; class index = position
    of the class directory among the sorted subdirectories of train/ (so
    airplane=0 ... truck=9), images in sorted path order within a class, the
    same image order as the Go loader (index i here is index i there).
  * decoded once with PIL (libjpeg-turbo) to RGB uint8 NCHW and cached as .npy
    under ~/.cache/autorep-torch/ (keyed by the source's path, size and
    mtime). Go decodes with image/jpeg plus libjpeg-style fancy chroma
    upsampling (data/ycc.go); the IDCTs differ by a level on some pixels
    (docs/RESULTS.md, "Same-recipe PyTorch comparison", gives the measured
    difference).
  * normalisation x = p*(1/(255*std)) + (-mean/std) in float32 with the
    cifar10 constants mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435,
    0.2616), the same for train and test.

Augmentation (data/loader.go, cropFlip)
  * random crop of the image zero-padded by 4 pixels on each side: offsets
    dy, dx uniform in {-4..4}; padding pixels are raw value 0 (black), i.e.
    -mean/std after normalisation (Go's lut[0]), as torchvision's
    RandomCrop(32, padding=4) before Normalize; then a horizontal flip with
    probability 1/2. No augmentation at evaluation.
  * a new shuffle every epoch; drop-last when the set is larger than a batch
    (50,000 images, batch 128: 390 steps per epoch, 80 images left out, a
    different 80 every epoch). The permutation and crops come from numpy's
    PCG64 seeded by (seed, epoch), so a resumed run sees the batches an
    uninterrupted one would; they are not Go's streams (Go: math/rand/v2
    PCG), so the two trainers see different batch orders and crops.

Model (models/arch.go cifarResNet, nn/conv.go, nn/linear.go, nn/batchnorm.go)
  * conv1 3x3 16 (no bias) - bn1 - ReLU; three stages of 3 post-activation
    basic blocks (16, 32, 64 channels; first block of stages 2 and 3 has
    stride 2): conv3x3-BN-ReLU-conv3x3-BN (+ shortcut) then ReLU. The
    shortcut is identity, or a 1x1 stride-s conv (no bias) + BN where the
    shape changes (option B, not He et al.'s zero-padding option A). Global
    average pooling, fc 64->10 with bias. 19 ReLU sites, 188,416 ReLUs.
    Module names equal the Go node names, so the state-dict keys are the
    tensor names of an autorep .safetensors model (--init, --export).
  * init: conv weights N(0, 2/fan_out), fan_out = out_channels*k*k (Kaiming
    normal, mode fan_out, ReLU gain; no conv biases in ResNet-20); fc weight
    and bias U(-1/sqrt(64), 1/sqrt(64)); BN weight 1, bias 0, running mean 0,
    running var 1. BN eps 1e-5, momentum 0.1, running variance updated with
    the unbiased batch variance (PyTorch's BatchNorm2d semantics, which
    nn/batchnorm.go and nn/layout.go implement). Go draws from math/rand
    seeded by --seed, PyTorch from torch.manual_seed(--seed): same
    distributions, different values (use --init for identical weights).

Recipe (cmd/autorep/train.go, optim/sgd.go, optim/schedule.go, train/train.go)
  * SGD, lr 0.1, momentum 0.9, Nesterov, weight decay 5e-4 on all
    parameters (conv and fc weights, fc bias, BN weights and biases; Go's
    --no-bn-decay is --no-bn-decay here: no decay on tensors with <= 1
    dimension). optim/sgd.go has torch.optim.SGD's update exactly (L2 decay
    added to the gradient, momentum buffer = first gradient on the first
    step, Nesterov step g + mu*buf), so torch.optim.SGD is used as is.
  * learning rate set before every step from the global step s (0-based):
    warm-up over W = floor(warmup_epochs * steps_per_epoch) steps,
    lr = 0.1*(s+1)/W; then per-step cosine to min_lr (0) over the remaining
    T-W steps, T = epochs*steps_per_epoch: lr = min + (0.1-min)*(1 +
    cos(pi*(s-W)/(T-W)))/2. One warm-up epoch (390 steps) by default.
  * loss: mean cross-entropy, label smoothing 0 by default
    ((1-e)*nll + e*mean over classes of -log p, as both nn/loss.go and
    F.cross_entropy(label_smoothing=e) compute it); batch 128.
  * train loss/accuracy are running means over the epoch's batches in
    training mode; evaluation after every epoch in eval mode (running BN
    statistics) on the whole test set, batch 256, mean cross-entropy and
    top-1 accuracy; no BN recalibration (autorep train does not set
    train.Trainer.Recalibrate).
  * --limit/--test-limit take a random subset fixed by the seed (kept in
    their original order), like autorep train's (not the same subset).

Output: progress on stderr; with --json one JSON object per epoch on stdout
(epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds; accuracies
as fractions, seconds = wall time of the epoch's training and evaluation).
--out PATH is written atomically after every epoch (model, optimiser, step,
history, settings); --resume continues from it (at most one epoch lost) and
refuses other settings. --export FILE writes the model after every epoch as an
autorep .safetensors file that `autorep eval --model FILE --dataset cifar10`
evaluates on the Go-decoded test images.
"""

import argparse
import hashlib
import io
import json
import math
import os
import struct
import sys
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
IMAGE_EXT = (".jpg", ".jpeg", ".png")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def data_dir(flag):
    if flag:
        return flag
    if os.environ.get("AUTOREP_DATA"):
        return os.environ["AUTOREP_DATA"]
    return os.path.join(os.path.expanduser("~"), ".cache", "autorep", "data")


def locate(ddir):
    """The ImageFolder source autorep uses for cifar10 when the binary
    CIFAR files are absent: cifar-10-jpg/ first, then cifar-10-jpg.tar.gz."""
    if os.path.isdir(os.path.join(ddir, "cifar-10-batches-bin")):
        log("note: %s has cifar-10-batches-bin/, which autorep train would use instead of the JPEG copy"
            % ddir)
    d = os.path.join(ddir, "cifar-10-jpg")
    if os.path.isdir(d):
        return d
    t = os.path.join(ddir, "cifar-10-jpg.tar.gz")
    if os.path.isfile(t):
        return t
    sys.exit("torch-resnet20-cifar: no cifar-10-jpg/ or cifar-10-jpg.tar.gz in %s" % ddir)


def read_sources(src):
    """Returns {relative path: bytes} of the image files under train/ and test/."""
    files = {}
    if os.path.isdir(src):
        for split in ("train", "test"):
            for root, _, names in os.walk(os.path.join(src, split)):
                for n in names:
                    if n.lower().endswith(IMAGE_EXT):
                        p = os.path.join(root, n)
                        with open(p, "rb") as f:
                            files[os.path.relpath(p, src).replace(os.sep, "/")] = f.read()
        return files
    with tarfile.open(src, "r|gz") as tf:
        for m in tf:
            name = m.name
            while name.startswith("./"):
                name = name[2:]
            if m.isfile() and name.lower().endswith(IMAGE_EXT) and name.split("/")[0] in ("train", "test"):
                files[name] = tf.extractfile(m).read()
    return files


def decode_split(files, split, classes):
    """Decodes one split in the Go loader's order: classes in label order,
    paths sorted within a class."""
    from PIL import Image

    index = {c: i for i, c in enumerate(classes)}
    items = []
    for p in files:
        parts = p.split("/")
        if parts[0] != split or len(parts) < 3:
            continue
        if parts[1] not in index:
            sys.exit("torch-resnet20-cifar: class %r of %s is not in train/" % (parts[1], p))
        items.append((index[parts[1]], p))
    # Go: classes in sorted order, then a sorted walk of each class directory.
    items.sort(key=lambda t: (t[0], t[1].split("/")[2:]))
    x = np.empty((len(items), 3, 32, 32), np.uint8)
    y = np.empty(len(items), np.int64)
    for k, (label, p) in enumerate(items):
        img = Image.open(io.BytesIO(files[p]))
        img = img.convert("RGB")
        a = np.asarray(img, dtype=np.uint8)
        if a.shape != (32, 32, 3):
            sys.exit("torch-resnet20-cifar: %s is %s, want 32x32x3" % (p, a.shape))
        x[k] = a.transpose(2, 0, 1)
        y[k] = label
    return x, y


def load_data(ddir):
    """Returns (train_x, train_y, test_x, test_y, classes), uint8 NCHW
    pixels and int64 labels, from the .npy cache or by decoding."""
    src = os.path.abspath(locate(ddir))
    st = os.stat(src)
    key = hashlib.sha256(("%s|%d|%d|pil-%s" % (src, st.st_size, st.st_mtime_ns, pil_version())).encode()).hexdigest()[:16]
    cache = os.path.join(os.path.expanduser("~"), ".cache", "autorep-torch", "cifar10-jpg-" + key)
    names = ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "classes.json"]
    if all(os.path.exists(os.path.join(cache, n)) for n in names):
        arrs = [np.load(os.path.join(cache, n)) for n in names[:4]]
        with open(os.path.join(cache, "classes.json")) as f:
            classes = json.load(f)
        log("data: %s (cache %s)" % (src, cache))
        return arrs + [classes]
    t0 = time.time()
    log("data: decoding %s (once; cached in %s)" % (src, cache))
    files = read_sources(src)
    classes = sorted({p.split("/")[1] for p in files if p.startswith("train/") and p.count("/") >= 2
                      and not p.split("/")[1].startswith(".")})
    if len(classes) != 10:
        sys.exit("torch-resnet20-cifar: %s has %d classes under train/, want 10" % (src, len(classes)))
    trx, trY = decode_split(files, "train", classes)
    tex, tey = decode_split(files, "test", classes)
    os.makedirs(cache, exist_ok=True)
    for n, a in zip(names, (trx, trY, tex, tey)):
        tmp = os.path.join(cache, n + ".tmp.npy")
        np.save(tmp, a)
        os.replace(tmp, os.path.join(cache, n))
    with open(os.path.join(cache, "classes.json.tmp"), "w") as f:
        json.dump(classes, f)
    os.replace(os.path.join(cache, "classes.json.tmp"), os.path.join(cache, "classes.json"))
    log("data: decoded %d train + %d test images in %.1fs" % (len(trx), len(tex), time.time() - t0))
    return trx, trY, tex, tey, classes


def pil_version():
    import PIL
    return PIL.__version__


def subset(x, y, n, seed, salt):
    """n images chosen at random (fixed by seed), in their original order."""
    if n <= 0 or n >= len(x):
        return x, y
    idx = np.sort(np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, salt]).permutation(len(x))[:n])
    return x[idx], y[idx]


class Normalizer:
    """uint8 -> float32 exactly as data.Loader's lookup table: float32(p) *
    float32(1/(255*std)) + float32(-mean/std)."""

    def __init__(self):
        lut = np.empty((3, 256), np.float32)
        p = np.arange(256, dtype=np.float32)
        for c in range(3):
            sd, m = np.float32(STD[c]), np.float32(MEAN[c])
            scale = np.float32(1) / (np.float32(255) * sd)
            shift = -m / sd
            lut[c] = p * scale + shift
        self.lut = lut

    def __call__(self, x):  # x uint8 [N,3,H,W]
        out = np.empty(x.shape, np.float32)
        for c in range(3):
            out[:, c] = self.lut[c][x[:, c]]
        return out


def train_batches(x, y, batch, drop_last, augment, seed, epoch, norm):
    """The batches of one epoch: shuffled, optionally cropped (pad 4, zero
    raw pixels) and flipped, normalised."""
    rng = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, 0x5EED, epoch])
    n = len(x)
    order = rng.permutation(n)
    nb = n // batch if drop_last else (n + batch - 1) // batch
    pad = 4
    for b in range(nb):
        idx = order[b * batch:(b + 1) * batch]
        imgs = x[idx]
        if augment:
            k = len(idx)
            padded = np.zeros((k, 3, 32 + 2 * pad, 32 + 2 * pad), np.uint8)
            padded[:, :, pad:pad + 32, pad:pad + 32] = imgs
            off = rng.integers(0, 2 * pad + 1, size=(k, 2))
            flip = rng.integers(0, 2, size=k) == 1
            out = np.empty_like(imgs)
            for i in range(k):
                oy, ox = off[i]
                crop = padded[i, :, oy:oy + 32, ox:ox + 32]
                out[i] = crop[:, :, ::-1] if flip[i] else crop
            imgs = out
        yield torch.from_numpy(norm(imgs)), torch.from_numpy(y[idx])


# ---------------------------------------------------------------- model


class BasicBlock(nn.Module):
    """models/arch.go basicBlock: conv-BN-ReLU-conv-BN, + shortcut, ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet20(nn.Module):
    """models/arch.go cifarResNet(3) with the Go node names."""

    def __init__(self, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        c = 16
        for s, width in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(c, width, 2 if s > 0 and j == 0 else 1))
                c = width
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(c, classes)
        self.init_like_autorep()

    def init_like_autorep(self):
        """nn.NewConv2d / nn.NewLinear / nn.NewBatchNorm2d."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    k = m.kernel_size[0] * m.kernel_size[1]
                    m.weight.normal_(0.0, math.sqrt(2.0 / (m.out_channels * k)))
                    if m.bias is not None:
                        bound = 1 / math.sqrt(m.in_channels // m.groups * k)
                        m.bias.uniform_(-bound, bound)
                elif isinstance(m, nn.Linear):
                    bound = 1 / math.sqrt(m.in_features)
                    m.weight.uniform_(-bound, bound)
                    m.bias.uniform_(-bound, bound)
                elif isinstance(m, nn.BatchNorm2d):
                    m.eps, m.momentum = 1e-5, 0.1
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                    m.running_mean.zero_()
                    m.running_var.fill_(1.0)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def relu_count(model):
    """ReLU positions per 32x32 image (188,416 for ResNet-20)."""
    total = 16 * 32 * 32
    for layer, hw in (("layer1", 32), ("layer2", 16), ("layer3", 8)):
        for blk in getattr(model, layer):
            total += 2 * blk.conv1.out_channels * hw * hw
    return total


# ---------------------------------------------------------------- safetensors


def model_tensors(model):
    """The state dict without num_batches_tracked, as autorep names it."""
    return {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = tensors[name].numpy().astype("<f4", copy=False)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        if h["dtype"] != "F32":
            sys.exit("torch-resnet20-cifar: %s: tensor %s is %s, want F32" % (path, name, h["dtype"]))
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], "<f4").astype(np.float32).reshape(h["shape"]))
    return out, meta


def export(path, model, history, args):
    meta = {
        "autorep.format": "1", "autorep.arch": "resnet20", "autorep.classes": "10",
        "autorep.input": "3,32,32", "autorep.dataset": "cifar10",
        "autorep.mean": ",".join("%g" % v for v in MEAN), "autorep.std": ",".join("%g" % v for v in STD),
        "autorep.train": json.dumps({
            "command": "torch-resnet20-cifar.py " + " ".join(sys.argv[1:]), "dataset": "cifar10",
            "epochs": len(history), "test_acc": history[-1]["test_acc"] if history else 0,
            "config": config_of(args), "history": history}),
    }
    write_safetensors(path, model_tensors(model), meta)


def load_init(model, path):
    tensors, meta = read_safetensors(path)
    if meta.get("autorep.arch", "resnet20") != "resnet20":
        sys.exit("torch-resnet20-cifar: %s is a %s model" % (path, meta.get("autorep.arch")))
    sd = model.state_dict()
    want = {k for k in sd if not k.endswith("num_batches_tracked")}
    have = set(tensors)
    if want != have:
        sys.exit("torch-resnet20-cifar: %s: missing %s, unexpected %s" % (path, sorted(want - have), sorted(have - want)))
    for k in want:
        if tuple(tensors[k].shape) != tuple(sd[k].shape):
            sys.exit("torch-resnet20-cifar: %s: %s has shape %s, want %s" % (path, k, list(tensors[k].shape), list(sd[k].shape)))
    model.load_state_dict(tensors, strict=False)


# ---------------------------------------------------------------- recipe


def make_optimizer(model, args):
    params = list(model.named_parameters())
    if args.no_bn_decay:
        decay = [p for _, p in params if p.dim() > 1]
        nodecay = [p for _, p in params if p.dim() <= 1]
        groups = [{"params": decay, "weight_decay": args.wd}, {"params": nodecay, "weight_decay": 0.0}]
    else:
        groups = [{"params": [p for _, p in params], "weight_decay": args.wd}]
    return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=args.momentum > 0,
                           weight_decay=args.wd)


def cosine_lr(step, base, minlr, warm, total):
    """optim.Cosine.LR."""
    step = max(step, 0)
    if step < warm:
        return base * (step + 1) / warm
    span = total - warm
    if span <= 0 or step >= total:
        return minlr
    frac = (step - warm) / span
    return minlr + (base - minlr) * (1 + math.cos(math.pi * frac)) / 2


def evaluate(model, x, y, norm, batch=256):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(norm(x[i:i + batch]))
            yb = torch.from_numpy(y[i:i + batch])
            out = model(xb)
            loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    return loss_sum / len(x), correct / len(x)


def config_of(args):
    return {k: getattr(args, k) for k in ("epochs", "seed", "batch", "lr", "momentum", "wd", "no_bn_decay",
                                           "warmup", "min_lr", "label_smoothing", "augment", "limit",
                                           "test_limit", "init")}


def save_checkpoint(path, model, opt, epoch, step, history, elapsed, args):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "step": step,
                "history": history, "elapsed": elapsed, "config": config_of(args),
                "torch_rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Same-recipe PyTorch trainer for autorep's ResNet-20 on CIFAR-10 (JPEG copy).",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--epochs", type=int, required=True, help="epochs; the schedule spans them")
    ap.add_argument("--seed", type=int, default=1, help="init, shuffle, crops, subsets")
    ap.add_argument("--data", default="", help="data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
    ap.add_argument("--out", default="", help="checkpoint written after every epoch (--resume reads it)")
    ap.add_argument("--resume", action="store_true", help="continue from --out")
    ap.add_argument("--export", default="", help="also write the model as an autorep .safetensors file after every epoch")
    ap.add_argument("--init", default="", help="start from the weights of an autorep resnet20 .safetensors file instead of a random init")
    ap.add_argument("--limit", type=int, default=0, help="train on N random training images (0 = all)")
    ap.add_argument("--test-limit", type=int, default=0, help="evaluate on N random test images (0 = all)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (Nesterov)")
    ap.add_argument("--wd", type=float, default=5e-4, help="weight decay (L2, coupled)")
    ap.add_argument("--no-bn-decay", action="store_true", help="no weight decay on biases and BN parameters")
    ap.add_argument("--warmup", type=float, default=1.0, help="linear warm-up epochs")
    ap.add_argument("--min-lr", type=float, default=0.0, help="final learning rate of the cosine")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--augment", choices=("on", "off"), default="on", help="random crop (pad 4) + flip")
    args = ap.parse_args()
    if args.epochs <= 0:
        ap.error("--epochs must be positive")
    if args.resume and not args.out:
        ap.error("--resume needs --out")
    if args.resume and args.init:
        ap.error("--init starts a new run; it cannot be combined with --resume")
    if not 0 <= args.label_smoothing < 1:
        ap.error("--label-smoothing must be in [0, 1)")
    torch.set_num_threads(args.threads)

    trx, trY, tex, teY, classes = load_data(data_dir(args.data))
    trx, trY = subset(trx, trY, args.limit, args.seed, 1)
    tex, teY = subset(tex, teY, args.test_limit, args.seed, 2)
    norm = Normalizer()

    torch.manual_seed(args.seed)
    model = ResNet20(len(classes))
    if args.init:
        load_init(model, args.init)
    opt = make_optimizer(model, args)
    drop_last = len(trx) > args.batch
    steps_per_epoch = len(trx) // args.batch if drop_last else (len(trx) + args.batch - 1) // args.batch
    total = args.epochs * steps_per_epoch
    warm = min(int(args.warmup * steps_per_epoch), total)
    epoch, step, history, elapsed = 0, 0, [], 0.0
    if args.resume:
        if not os.path.exists(args.out):
            sys.exit("torch-resnet20-cifar: --resume: no checkpoint %s" % args.out)
        ck = torch.load(args.out)
        if ck["config"] != config_of(args):
            diff = ["%s was %s, now %s" % (k, ck["config"].get(k), v) for k, v in config_of(args).items()
                    if ck["config"].get(k) != v]
            sys.exit("torch-resnet20-cifar: the checkpoint was made with other settings (%s)" % "; ".join(diff))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        epoch, step, history, elapsed = ck["epoch"], ck["step"], ck["history"], ck["elapsed"]
        torch.set_rng_state(ck["torch_rng"])
        log("resuming %s after epoch %d of %d" % (args.out, epoch, args.epochs))
        if args.json:
            for h in history:
                print(json.dumps(h), flush=True)
    log("torch %s: resnet20 (%d ReLUs) on %d train / %d test images, batch %d, %d steps/epoch, "
        "SGD nesterov lr %g wd %g%s, warm-up %d steps, label smoothing %g, augment %s, %d threads"
        % (torch.__version__, relu_count(model), len(trx), len(tex), args.batch, steps_per_epoch, args.lr, args.wd,
           " (not on BN/bias)" if args.no_bn_decay else "", warm, args.label_smoothing, args.augment,
           torch.get_num_threads()))

    for e in range(epoch, args.epochs):
        t0 = time.time()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        lr = opt.param_groups[0]["lr"]
        for b, (xb, yb) in enumerate(train_batches(trx, trY, args.batch, drop_last, args.augment == "on",
                                                   args.seed, e, norm)):
            lr = cosine_lr(step, args.lr, args.min_lr, warm, total)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=args.label_smoothing)
            lv = loss.item()
            if not math.isfinite(lv):
                sys.exit("torch-resnet20-cifar: epoch %d step %d: loss is %s" % (e + 1, step, lv))
            loss.backward()
            opt.step()
            step += 1
            n = len(yb)
            loss_sum += lv * n
            correct += (out.argmax(1) == yb).sum().item()
            seen += n
            if (b + 1) % 50 == 0:
                log("epoch %d/%d step %d/%d: loss %.4f acc %.2f%% lr %.4g, %.0f img/s"
                    % (e + 1, args.epochs, b + 1, steps_per_epoch, loss_sum / seen, 100 * correct / seen, lr,
                       seen / (time.time() - t0)))
        test_loss, test_acc = evaluate(model, tex, teY, norm)
        secs = time.time() - t0
        elapsed += secs
        rec = {"epoch": e + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "seconds": round(secs, 2)}
        history.append(rec)
        log("epoch %d/%d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%, %.1fs"
            % (e + 1, args.epochs, rec["train_loss"], 100 * rec["train_acc"], test_loss, 100 * test_acc, secs))
        if args.out:
            save_checkpoint(args.out, model, opt, e + 1, step, history, elapsed, args)
        if args.export:
            export(args.export, model, history, args)
        if args.json:
            print(json.dumps(rec), flush=True)
    if history and args.export and epoch >= args.epochs:
        export(args.export, model, history, args)  # --resume of a finished run
    if history:
        log("done: test accuracy %.2f%% after %d epochs, %.0fs of training" % (100 * history[-1]["test_acc"], len(history), elapsed))


if __name__ == "__main__":
    main()
