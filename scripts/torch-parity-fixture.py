#!/usr/bin/python3
"""Write the PyTorch-parity fixture models/testdata/torch-parity.safetensors.

The Go test models/parity_test.go (TestTorchParity) builds the same networks
with autorep's layers, loads the weights and inputs from this file, runs one
forward and backward pass and compares loss, logits, parameter gradients and
the updated batch-norm running statistics with PyTorch's. Regenerate with
Debian's torch 1.13 (python3-torch) and commit the file:

    /usr/bin/python3 scripts/torch-parity-fixture.py models/testdata/torch-parity.safetensors

Networks (names as autorep's models package gives them):
  lenet        LeNet-5 as models/arch.go buildLeNet, MNIST geometry 1x28x28,
               10 classes: conv 6@5x5 pad 2 - ReLU - maxpool 2 - conv 16@5x5 -
               ReLU - maxpool 2 - flatten - fc 120 - ReLU - fc 84 - ReLU - fc.
  resnet       a small CIFAR ResNet as models/arch.go cifarResNet: conv 3x3 16
               (no bias) - BN - ReLU; basic block 16->16 (identity shortcut);
               basic block 16->32 stride 2 (1x1 conv + BN shortcut); global
               average pooling; fc. Input 3x8x8. Widths of 16 and 32 make
               autorep run its blocked (nChw16c) and fused paths.
Cases: lenet (training mode), resnet_train (batch statistics; the running
statistics it leaves behind are recorded too), resnet_eval (running
statistics, set to non-trivial values) and resnet_poly (training mode, two
ReLU sites replaced by autorep's PolyMask activation: half the ReLUs of each
become per-channel degree-2 polynomials), the last three with the same
weights. resnet_poly's masks and coefficients are "resnet_poly/param/<site>.mask"
and ".poly" (metadata "extra").
The metadata "cases" maps each case to its network and mode.

Loss: autorep's two losses (nn.CrossEntropy, which `train` uses with label
smoothing, and nn.KDLoss, the distillation term of `reduce`, DESIGN 1.1):
    L = CE(logits, labels; label smoothing 0.1) + KD(logits, teacher; T = 4),
    KD = KL(softmax(t/T) || softmax(s/T)) * T^2, averaged over the batch,
with fixed teacher logits (the teacher is a constant).

The reference values are computed in float64 from float32 weights and inputs
(so they are the exact result up to float64 rounding) and stored rounded to
float32. The same pass in PyTorch float32 is measured against that
reference and recorded in the metadata ("torch_f32_err"), as the yardstick
for autorep's float32 error.

Tensor names: "<net>/param/<name>" (weights and, for BN, the running
statistics before the pass; shared by the cases of a network),
"<case>/input", "<case>/labels" (class indices as floats), "<case>/teacher",
"<case>/logits", "<case>/loss" ([1]),
"<case>/grad/<parameter>", "<case>/after/<buffer>" (running statistics after
a training-mode pass).
"""

import copy
import importlib.util
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SMOOTHING = 0.1
TEMPERATURE = 4.0
SEED = 20


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()  # autorep's ReLU sites
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(16, 16, 1))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class PolyMask(nn.Module):
    """autorep's nn.PolyMask, the activation of a reduced network:
    y = m*relu(x) + (1 - m)*(c0 + c1*x + c2*x^2 + ...), mask m [C,H,W]
    shared over the batch, coefficients per channel; stored as the buffers
    "<site>.mask" and "<site>.poly" [C, degree+1], as autorep names them."""

    def __init__(self, mask, poly):
        super().__init__()
        self.register_buffer("mask", mask)
        self.register_buffer("poly", poly)

    def forward(self, x):
        c, d1 = self.poly.shape
        p = self.poly[:, d1 - 1].reshape(1, c, 1, 1)
        for k in range(d1 - 2, -1, -1):  # Horner, as autorep
            p = p * x + self.poly[:, k].reshape(1, c, 1, 1)
        return self.mask * F.relu(x) + (1 - self.mask) * p


def with_polymasks(model, sites, gen):
    """A copy of model whose given ReLU sites (name: per-image shape) are
    PolyMasks with a random half of the ReLUs replaced by random degree-2
    polynomials near DaPa's fit for N(0, 1) (0.2 + 0.5x + 0.2x^2)."""
    m = copy.deepcopy(model)
    for name, (c, h, w) in sites.items():
        mask = (torch.rand(c, h, w, generator=gen) < 0.5).float()
        poly = torch.tensor([0.2, 0.5, 0.2]) + (torch.rand(c, 3, generator=gen) - 0.5) * 0.2
        parent, _, leaf = name.rpartition(".")
        setattr(m.get_submodule(parent) if parent else m, leaf, PolyMask(mask, poly))
    return m


def loss_fn(logits, labels, teacher):
    ce = F.cross_entropy(logits, labels, label_smoothing=SMOOTHING)
    kd = F.kl_div(F.log_softmax(logits / TEMPERATURE, 1), F.softmax(teacher / TEMPERATURE, 1),
                  reduction="batchmean") * TEMPERATURE * TEMPERATURE
    return ce + kd


def randomise_bn(model, gen, running):
    """Non-trivial BN affine parameters (and running statistics if asked),
    so that a swapped mean/variance or a dropped gamma shows."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) + 0.5
            m.bias.data = torch.rand(c, generator=gen) * 0.4 - 0.2
            if running:
                m.running_mean.data = torch.randn(c, generator=gen) * 0.3
                m.running_var.data = torch.rand(c, generator=gen) * 1.5 + 0.5


def run(model, x, labels, teacher, training, dtype):
    """One forward/backward pass of a copy of model in dtype."""
    m = {torch.float64: lambda mm: mm.double(), torch.float32: lambda mm: mm.float()}[dtype](
        copy.deepcopy(model))
    m.train(training)
    logits = m(x.to(dtype))
    loss = loss_fn(logits, labels, teacher.to(dtype))
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in m.named_parameters()}
    after = {n: b.detach().clone() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked")}
    return loss.detach(), logits.detach(), grads, after


def rel_err(got, want):
    """max |got − want| / max(1, max |want|)."""
    scale = max(1.0, float(want.abs().max()))
    return float((got.double() - want.double()).abs().max()) / scale


def case(out, meta, name, net, model, x, labels, teacher, training, buffers_after, extra=""):
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    for k, v in sd.items():
        if k.endswith(".mask") or k.endswith(".poly"):
            out["%s/param/%s" % (extra, k)] = v
        else:
            out["%s/param/%s" % (net, k)] = v
    out[name + "/input"] = x
    out[name + "/labels"] = labels.to(torch.float32)
    out[name + "/teacher"] = teacher
    loss, logits, grads, after = run(model, x, labels, teacher, training, torch.float64)
    out[name + "/loss"] = loss.reshape(1)
    out[name + "/logits"] = logits
    for k, g in grads.items():
        out["%s/grad/%s" % (name, k)] = g
    if buffers_after:
        for k, b in after.items():
            if not (k.endswith(".mask") or k.endswith(".poly")):
                out["%s/after/%s" % (name, k)] = b
    # PyTorch's own float32 error against the float64 reference.
    l32, z32, g32, a32 = run(model, x, labels, teacher, training, torch.float32)
    err = {"loss": rel_err(l32.reshape(1), loss.reshape(1)), "logits": rel_err(z32, logits),
           "grad": max(rel_err(g32[k], grads[k]) for k in grads)}
    if buffers_after:
        err["after"] = max(rel_err(a32[k], after[k]) for k in after)
    meta["torch_f32_err"][name] = err
    meta["cases"][name] = {"net": net, "training": training}
    if extra:
        meta["cases"][name]["extra"] = extra
    print("%-13s loss %.9f  torch float32 error vs float64: %s" % (name, float(loss), json.dumps(err)))


def write_safetensors(path, tensors, metadata):
    """The ResNet-20 script's writer (one safetensors writer for both)."""
    spec = importlib.util.spec_from_file_location(
        "torch_resnet20_cifar", os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch-resnet20-cifar.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_safetensors(path, {k: v.detach().cpu().to(torch.float32).contiguous() for k, v in tensors.items()}, metadata)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch-parity-fixture.py OUT.safetensors")
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    out = {}
    meta = {"torch_f32_err": {}, "cases": {}}

    lenet = LeNet()
    x = torch.randn(4, 1, 28, 28, generator=gen)
    labels = torch.tensor([3, 0, 9, 7])
    teacher = torch.randn(4, 10, generator=gen) * 3
    case(out, meta, "lenet", "lenet", lenet, x, labels, teacher, True, False)

    net = SmallResNet()
    randomise_bn(net, gen, running=True)
    x = torch.randn(4, 3, 8, 8, generator=gen)
    labels = torch.tensor([1, 4, 4, 8])
    teacher = torch.randn(4, 10, generator=gen) * 3
    case(out, meta, "resnet_train", "resnet", net, x, labels, teacher, True, True)
    case(out, meta, "resnet_eval", "resnet", net, x, labels, teacher, False, False)
    # The same weights with two sites reduced (one after a batch norm, one
    # after the residual add), in training mode.
    poly = with_polymasks(net, {"layer1.0.relu1": (16, 8, 8), "layer2.0.relu2": (32, 4, 4)}, gen)
    case(out, meta, "resnet_poly", "resnet", poly, x, labels, teacher, True, True, extra="resnet_poly")

    write_safetensors(sys.argv[1], out, {
        "generator": "scripts/torch-parity-fixture.py",
        "torch": torch.__version__, "numpy": np.__version__,
        "smoothing": repr(SMOOTHING), "temperature": repr(TEMPERATURE),
        "cases": json.dumps(meta["cases"]),
        "torch_f32_err": json.dumps(meta["torch_f32_err"]),
    })
    print("wrote %s (%d tensors, %d bytes)" % (sys.argv[1], len(out), os.path.getsize(sys.argv[1])))


if __name__ == "__main__":
    main()
