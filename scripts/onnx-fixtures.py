#!/usr/bin/python3
"""Writes the ONNX test fixtures of package onnxmodel (onnxmodel/testdata).

Run once with Debian's python3-torch (1.13) and python3-onnx; the outputs
are committed so the Go tests need neither Python nor the internet:

    /usr/bin/python3 scripts/onnx-fixtures.py onnxmodel/testdata

For each model, random weights (fixed seeds) in the layout autorep defines
(models/arch.go), exported by torch.onnx.export in eval mode, and a
TensorProto pair NAME.input.pb / NAME.logits.pb: a few fixed inputs and the
PyTorch logits for them.

    lenet.onnx          LeNet-5 on 1x28x28, 10 classes, opset 11
    resnet20.onnx       ResNet-20 on 3x32x32, opset 13, batch norm folded
                        into the convolutions (torch's default in eval mode)
    resnet20-bn.onnx    the same network, opset 17, exported with
                        training=PRESERVE so BatchNormalization nodes stay
    avgnet.onnx         a small network of no known architecture: Conv (bias)
                        + BatchNormalization + Relu, AvgPool2d(padding=1)
                        (torch writes Pad + AveragePool), a residual Add,
                        MaxPool, x.view(x.size(0), -1) (Shape, Gather,
                        Unsqueeze, Concat, Reshape), Linear with MatMul +
                        Add; opset 12
"""

import importlib.util
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_resnet20():
    """The ResNet20 class of scripts/torch-resnet20-cifar.py (same layout as autorep)."""
    spec = importlib.util.spec_from_file_location("tr20", os.path.join(HERE, "torch-resnet20-cifar.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ResNet20


class LeNet(nn.Module):
    """models/arch.go buildLeNet."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, 1, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class AvgNet(nn.Module):
    """No autorep architecture: exercises the generic-graph operators."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.AvgPool2d(3, 2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
        self.pool2 = nn.MaxPool2d(2)
        self.w = nn.Parameter(torch.randn(8 * 4 * 4, 5) * 0.1)
        self.b = nn.Parameter(torch.randn(5) * 0.1)

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(x + self.conv2(x))
        x = self.pool2(x)
        x = x.view(x.size(0), -1)  # Shape, Gather, Unsqueeze, Concat, Reshape with a dynamic batch
        return x @ self.w + self.b


def randomize_bn(model, gen):
    """Non-trivial batch-norm statistics, so folding them is tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)


def write(outdir, name, model, shape, opset, training=torch.onnx.TrainingMode.EVAL):
    model.eval()
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, *shape, generator=gen)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x[:1], path, opset_version=opset, training=training,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    onnx.checker.check_model(onnx.load(path))
    for suffix, t in (("input", x), ("logits", y)):
        tp = onnx.numpy_helper.from_array(t.numpy().astype(np.float32), name=suffix)
        with open(os.path.join(outdir, "%s.%s.pb" % (name, suffix)), "wb") as f:
            f.write(tp.SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print("%s: %d bytes, opset %d, ops %s" % (path, os.path.getsize(path), opset, " ".join(ops)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: onnx-fixtures.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(1)
    write(outdir, "lenet", LeNet(), (1, 28, 28), 11)
    torch.manual_seed(2)
    gen = torch.Generator().manual_seed(3)
    r20 = torch_resnet20()()
    randomize_bn(r20, gen)
    write(outdir, "resnet20", r20, (3, 32, 32), 13)
    write(outdir, "resnet20-bn", r20, (3, 32, 32), 17, training=torch.onnx.TrainingMode.PRESERVE)
    torch.manual_seed(4)
    avg = AvgNet()
    randomize_bn(avg, gen)
    write(outdir, "avgnet", avg, (3, 16, 16), 12, training=torch.onnx.TrainingMode.PRESERVE)


if __name__ == "__main__":
    main()
