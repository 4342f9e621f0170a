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
    lenet-norm.onnx     the trained models/lenet-mnist.safetensors with the
                        MNIST normalisation inside: forward((x − 0.1307) /
                        0.3081) on [0,1] pixels (Sub and Div), opset 13
    tvnet.onnx          3x32x32, 10 classes, random weights: torchvision-style
                        per-channel normalisation inside (Sub, Div by
                        [1,3,1,1] constants), a padded conv, a dilated conv,
                        a 1x3 conv, Mul by a per-channel constant, MaxPool
                        with ceil_mode where it adds no window, Sub before
                        an unpadded conv, Div after a conv, AvgPool2d with
                        padding, Gemm then Mul by a scalar; opset 13
    padnet.onnx         written node by node (torch exports no such
                        attributes): Conv auto_pad SAME_UPPER stride 2 (pads
                        0,0,1,1), Conv pads [0,0,2,2], AveragePool pads
                        [1,1,0,0] with count_include_pad, Conv auto_pad
                        SAME_LOWER with a 2x2 kernel, a Pad node [0,0,1,0,
                        0,0,0,1], Flatten, Gemm; PyTorch computes the
                        reference logits with F.pad; opset 13
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


def torch_module(script):
    """Loads one of the scripts next to this one as a module."""
    spec = importlib.util.spec_from_file_location(script.replace("-", "_")[:-3], os.path.join(HERE, script))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def torch_resnet20():
    """The ResNet20 class of scripts/torch-resnet20-cifar.py (same layout as autorep)."""
    return torch_module("torch-resnet20-cifar.py").ResNet20


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


class Normalized(nn.Module):
    """A model that takes [0,1] pixels and normalises them itself, as
    torchvision-style exports do."""

    def __init__(self, inner, mean, std):
        super().__init__()
        self.inner = inner
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return self.inner((x - self.mean) / self.std)


class TvNet(nn.Module):
    """Constant Mul/Sub/Div anywhere, dilation, a non-square kernel, ceil_mode."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.c = nn.Conv2d(8, 8, (1, 3), padding=(0, 1))
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.d = nn.Conv2d(8, 16, 3, stride=2)
        self.avg = nn.AvgPool2d(3, 2, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 10)
        self.register_buffer("gain", torch.rand(1, 8, 1, 1) + 0.5)
        self.register_buffer("offset", torch.randn(1, 8, 1, 1) * 0.1)

    def forward(self, x):
        x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = F.relu(self.a(x))
        x = F.relu(self.b(x)) * self.gain
        x = self.pool(F.relu(self.c(x)))
        x = self.d(x - self.offset) / 2.0
        x = self.avg(F.relu(x))
        return self.fc(torch.flatten(x, 1)) * 0.5


def padnet(outdir, gen):
    """Writes padnet.onnx node by node, with PyTorch's logits as reference."""
    from onnx import helper, numpy_helper, TensorProto

    w1 = torch.randn(4, 3, 3, 3, generator=gen) * 0.3
    w2 = torch.randn(4, 4, 3, 3, generator=gen) * 0.3
    w3 = torch.randn(4, 4, 2, 2, generator=gen) * 0.3
    b3 = torch.randn(4, generator=gen) * 0.1
    wf = torch.randn(5, 4 * 5 * 5, generator=gen) * 0.1
    bf = torch.randn(5, generator=gen) * 0.1
    x = torch.randn(3, 3, 8, 8, generator=gen)

    def ref(x):
        y = F.relu(F.conv2d(F.pad(x, (0, 1, 0, 1)), w1, stride=2))  # SAME_UPPER: 8 -> 4
        y = F.relu(F.conv2d(F.pad(y, (0, 2, 0, 2)), w2))  # pads [0,0,2,2]: 4 -> 4
        y = F.avg_pool2d(F.pad(y, (1, 0, 1, 0)), 2, 1)  # pads [1,1,0,0], count_include_pad: 4 -> 4
        y = F.conv2d(F.pad(y, (1, 0, 1, 0)), w3, b3)  # SAME_LOWER, 2x2: 4 -> 4
        y = F.pad(y, (0, 1, 1, 0))  # Pad node: H begin 1, W end 1 -> 5x5
        return F.linear(torch.flatten(F.relu(y), 1), wf, bf)

    with torch.no_grad():
        y = ref(x)
    inits = [numpy_helper.from_array(t.numpy(), name=n) for n, t in
             (("w1", w1), ("w2", w2), ("w3", w3), ("b3", b3), ("wf", wf), ("bf", bf))]
    inits.append(numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 1], dtype=np.int64), name="pads"))
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="/c1/Conv", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c1"], ["r1"], name="/r1/Relu"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="/c2/Conv", pads=[0, 0, 2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="/r2/Relu"),
        helper.make_node("AveragePool", ["r2"], ["a"], name="/a/AveragePool", kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1),
        helper.make_node("Conv", ["a", "w3", "b3"], ["c3"], name="/c3/Conv", kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
        helper.make_node("Pad", ["c3", "pads"], ["p"], name="/p/Pad", mode="constant"),
        helper.make_node("Relu", ["p"], ["r3"], name="/r3/Relu"),
        helper.make_node("Flatten", ["r3"], ["f"], name="/f/Flatten", axis=1),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="/fc/Gemm", transB=1),
    ]
    graph = helper.make_graph(nodes, "padnet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="onnx-fixtures.py")
    onnx.checker.check_model(model)
    path = os.path.join(outdir, "padnet.onnx")
    onnx.save(model, path)
    save_pair(outdir, "padnet", x, y)
    print("%s: %d bytes, opset 13, written node by node" % (path, os.path.getsize(path)))


def save_pair(outdir, name, x, y):
    for suffix, t in (("input", x), ("logits", y)):
        tp = onnx.numpy_helper.from_array(t.numpy().astype(np.float32), name=suffix)
        with open(os.path.join(outdir, "%s.%s.pb" % (name, suffix)), "wb") as f:
            f.write(tp.SerializeToString())


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


def write(outdir, name, model, shape, opset, training=torch.onnx.TrainingMode.EVAL, pixels=False):
    model.eval()
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(3, *shape, generator=gen) if pixels else torch.randn(3, *shape, generator=gen)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x[:1], path, opset_version=opset, training=training,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    onnx.checker.check_model(onnx.load(path))
    save_pair(outdir, name, x, y)
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
    lenet = LeNet()
    tensors, _ = torch_module("torch-resnet20-cifar.py").read_safetensors(os.path.join(HERE, "..", "models", "lenet-mnist.safetensors"))
    lenet.load_state_dict(tensors, strict=True)
    write(outdir, "lenet-norm", Normalized(lenet, [0.1307], [0.3081]), (1, 28, 28), 13, pixels=True)
    torch.manual_seed(5)
    write(outdir, "tvnet", TvNet(), (3, 32, 32), 13, pixels=True)
    padnet(outdir, torch.Generator().manual_seed(6))


if __name__ == "__main__":
    main()
