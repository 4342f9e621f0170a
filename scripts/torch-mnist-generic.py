#!/usr/bin/python3
"""Trains a small CNN that is none of autorep's architectures on MNIST with
PyTorch and exports it to ONNX, to exercise `autorep import`'s generic-graph
path end to end (import → eval → relus → reduce → bench pi).

The network: Conv(1→8, 3, pad 1) + BN + ReLU, AvgPool2d(3, 2, padding=1)
(torch writes Pad + AveragePool), Conv(8→8, 3, pad 1) + BN with a residual
Add and ReLU, Conv(8→16, 3, pad 1) + ReLU, MaxPool 2, flatten, Linear
written as x @ W + b (MatMul + Add). Inputs are normalised like autorep's
mnist ((p/255 − 0.1307)/0.3081). Prints one JSON object (test accuracy,
epochs, seconds, file).

    /usr/bin/python3 scripts/torch-mnist-generic.py --data /work/shared/datasets --epochs 1 --out /tmp/gen.onnx
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Generic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.AvgPool2d(3, 2, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 16, 3, 1, 1)
        self.pool2 = nn.MaxPool2d(2)
        self.w = nn.Parameter(torch.randn(16 * 7 * 7, 10) * 0.02)
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(x + self.bn2(self.conv2(x)))
        x = self.pool2(F.relu(self.conv3(x)))
        return torch.flatten(x, 1) @ self.w + self.b


def idx(ddir, name, off):
    for n in (name + ".gz", name):
        p = os.path.join(ddir, "mnist", n)
        if os.path.exists(p):
            with (gzip.open if n.endswith(".gz") else open)(p, "rb") as f:
                return np.frombuffer(f.read()[off:], np.uint8)
    sys.exit("torch-mnist-generic: no %s under %s" % (name, os.path.join(ddir, "mnist")))


def norm(x):
    return torch.from_numpy(((x.astype(np.float32) / 255 - 0.1307) / 0.3081).astype(np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AUTOREP_DATA", ""), help="data directory with mnist/")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--out", required=True, help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    trx = idx(args.data, "train-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    trY = torch.from_numpy(idx(args.data, "train-labels-idx1-ubyte", 8).astype(np.int64))
    tex = idx(args.data, "t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    teY = torch.from_numpy(idx(args.data, "t10k-labels-idx1-ubyte", 8).astype(np.int64))
    model = Generic()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    t0 = time.time()
    rng = np.random.default_rng(1)
    for _ in range(args.epochs):
        model.train()
        perm = rng.permutation(len(trx))
        for i in range(0, len(perm), 128):
            j = perm[i:i + 128]
            loss = F.cross_entropy(model(norm(trx[j])), trY[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(tex), 500):
            correct += (model(norm(tex[i:i + 500])).argmax(1) == teY[i:i + 500]).sum().item()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), args.out, opset_version=args.opset,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    print(json.dumps({"torch_accuracy": correct / len(tex), "epochs": args.epochs,
                      "seconds": round(time.time() - t0, 1), "onnx": args.out, "opset": args.opset}))


if __name__ == "__main__":
    main()
