# PyTorch (Debian python3-torch, CPU) training and inference throughput of
# the CIFAR-shaped networks autorep builds, for `autorep bench train
# --anchor scripts/torch-speed-anchor.py`: the protocol of
# ../shared/anchors/torch_resnet20_speed.py (random data, SGD momentum 0.9
# + wd 5e-4, batch 128, 3 untimed + 20 timed training steps; eval mode,
# batch 256, 2 untimed + 10 timed batches) for any of
#   resnet20  He et al.'s CIFAR ResNet-20 (the shared anchor's network)
#   resnet18  "resnet18_in": 3x3 stem conv 64 + BN, no stem ReLU, no max
#             pooling, 4 stages of 2 basic blocks (models/arch.go resNet18)
#   wrn22_8   pre-activation WideResNet-22-8 without a final ReLU
#             (models/arch.go buildWRN)
# Usage: /usr/bin/python3 scripts/torch-speed-anchor.py [threads [model]]
# It prints the model name as a field of its one output line (bench train
# checks that it is the model it measured), images/s and images per
# CPU-second of the process.
import sys, time, torch, torch.nn as nn, torch.nn.functional as F


class Basic(nn.Module):
    """Post-activation basic block with a 1x1 conv + BN projection."""

    def __init__(s, i, o, st):
        super().__init__()
        s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o)
        s.sc = None
        if st != 1 or i != o:
            s.sc = nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))

    def forward(s, x):
        y = s.b2(s.c2(F.relu(s.b1(s.c1(x)))))
        return F.relu(y + (x if s.sc is None else s.sc(x)))


class ResNet(nn.Module):
    def __init__(s, stem, widths, n, stem_relu, k=10):
        super().__init__()
        s.c = nn.Conv2d(3, stem, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(stem)
        s.stem_relu = stem_relu
        L = []; i = stem
        for g, o in enumerate(widths):
            for j in range(n):
                L.append(Basic(i, o, 2 if g > 0 and j == 0 else 1)); i = o
        s.L = nn.Sequential(*L); s.fc = nn.Linear(i, k)

    def forward(s, x):
        x = s.b(s.c(x))
        if s.stem_relu:
            x = F.relu(x)
        x = s.L(x)
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class PreAct(nn.Module):
    """Pre-activation wide block; the projection reads the activated input."""

    def __init__(s, i, o, st):
        super().__init__()
        s.b1 = nn.BatchNorm2d(i); s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False)
        s.b2 = nn.BatchNorm2d(o); s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        s.sc = nn.Conv2d(i, o, 1, st, bias=False) if st != 1 or i != o else None

    def forward(s, x):
        a = F.relu(s.b1(x))
        y = s.c2(F.relu(s.b2(s.c1(a))))
        return y + (x if s.sc is None else s.sc(a))


class WRN(nn.Module):
    def __init__(s, depth, w, k=10):
        super().__init__()
        n = (depth - 4) // 6
        s.c = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        L = []; i = 16
        for g, o in enumerate((16 * w, 32 * w, 64 * w)):
            for j in range(n):
                L.append(PreAct(i, o, 2 if g > 0 and j == 0 else 1)); i = o
        s.L = nn.Sequential(*L); s.b = nn.BatchNorm2d(i); s.fc = nn.Linear(i, k)

    def forward(s, x):
        x = s.b(s.L(s.c(x)))
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


NETS = {
    "resnet20": lambda: ResNet(16, (16, 32, 64), 3, True),
    "resnet18": lambda: ResNet(64, (64, 128, 256, 512), 2, False),
    "wrn22_8": lambda: WRN(22, 8),
}

th = int(sys.argv[1]) if len(sys.argv) > 1 else 2
name = sys.argv[2] if len(sys.argv) > 2 else "resnet20"
if name not in NETS:
    sys.exit(f"unknown model {name!r}: one of {', '.join(NETS)}")
torch.set_num_threads(th)
torch.manual_seed(0)
m = NETS[name]()
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
x = torch.randn(128, 3, 32, 32); y = torch.randint(0, 10, (128,))
m.train()
for _ in range(3):
    opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
# process_time is the CPU time of all the process's threads (OpenMP
# spinning included), as autorep's per-CPU-second rates count it.
n = 20; t, c = time.perf_counter(), time.process_time()
for _ in range(n):
    opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
train_ips = n * 128 / (time.perf_counter() - t)
train_cpu = n * 128 / (time.process_time() - c)
m.eval()
with torch.no_grad():
    xb = torch.randn(256, 3, 32, 32)
    for _ in range(2): m(xb)
    t, c = time.perf_counter(), time.process_time(); k = 10
    for _ in range(k): m(xb)
    inf_ips = k * 256 / (time.perf_counter() - t)
    inf_cpu = k * 256 / (time.process_time() - c)
print(f"torch {torch.__version__} threads={th} {name} train_images_per_s={train_ips:.1f} infer_images_per_s={inf_ips:.1f}"
      f" train_images_per_cpu_s={train_cpu:.1f} infer_images_per_cpu_s={inf_cpu:.1f}")
