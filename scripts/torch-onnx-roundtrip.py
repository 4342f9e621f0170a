#!/usr/bin/python3
"""autorep model → PyTorch → ONNX: the "bring your PyTorch model" path,
checked from the PyTorch side.

Loads an autorep resnet20 (or lenet) .safetensors file into the same-layout
PyTorch model (scripts/torch-resnet20-cifar.py's ResNet20,
scripts/onnx-fixtures.py's LeNet), evaluates it on the test split
(CIFAR-10: cifar-10-batches-bin/, the original binary files; MNIST:
mnist/t10k-*.gz), and exports it with torch.onnx.export in eval mode (batch
norm folded, opset 13). Then

    autorep import --onnx OUT.onnx --dataset cifar10 --out back.safetensors
    autorep eval --model back.safetensors --dataset cifar10

should give the same accuracy as the original file. It also writes OUT.input.pb and OUT.logits.pb (the first
8 test images and PyTorch's logits) for

    AUTOREP_ONNX_CHECK=OUT.onnx go test ./onnxmodel -run TestTorchFileLogits

Prints one JSON object: torch_accuracy (null with --skip-eval), n, onnx.

    /usr/bin/python3 scripts/torch-onnx-roundtrip.py --model models/resnet20-cifar10-lossless.safetensors \\
        --data /root/autorep-data --out /tmp/r20.onnx
"""

import argparse
import gzip
import importlib.util
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="autorep resnet20 or lenet .safetensors file")
    ap.add_argument("--arch", choices=("resnet20", "lenet"), default="resnet20")
    ap.add_argument("--data", default="", help="data directory with cifar-10-batches-bin/ (default $AUTOREP_DATA)")
    ap.add_argument("--out", required=True, help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-eval", action="store_true", help="do not evaluate the whole test split")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    spec = importlib.util.spec_from_file_location("tr20", os.path.join(HERE, "torch-resnet20-cifar.py"))
    tr20 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tr20)
    ddir = args.data or os.environ.get("AUTOREP_DATA", "")
    if args.arch == "lenet":
        spec = importlib.util.spec_from_file_location("fx", os.path.join(HERE, "onnx-fixtures.py"))
        fx = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fx)
        model, shape = fx.LeNet(), (1, 28, 28)
        tensors, _ = tr20.read_safetensors(args.model)
        model.load_state_dict(tensors, strict=True)
        x, y = read_mnist_test(ddir)
        norm = lambda b: ((b.astype(np.float32) / 255 - 0.1307) / 0.3081).astype(np.float32)
    else:
        model, shape = tr20.ResNet20(), (3, 32, 32)
        tr20.load_init(model, args.model)
        x, y = read_cifar_test(ddir)
        norm = tr20.Normalizer()
    model.eval()
    acc = None if args.skip_eval else tr20.evaluate(model, x, y, norm)[1]
    # The first 8 test images and PyTorch's logits for them, as TensorProto
    # files next to the ONNX file (OUT.input.pb, OUT.logits.pb): the
    # AUTOREP_ONNX_CHECK test of package onnxmodel compares autorep's.
    import onnx.numpy_helper
    xin = torch.from_numpy(np.ascontiguousarray(norm(x[:8])))
    with torch.no_grad():
        logits = model(xin)
    stem = os.path.splitext(args.out)[0]
    for suffix, t in (("input", xin), ("logits", logits)):
        with open("%s.%s.pb" % (stem, suffix), "wb") as f:
            f.write(onnx.numpy_helper.from_array(t.numpy().astype(np.float32), name=suffix).SerializeToString())

    torch.onnx.export(model, torch.zeros(1, *shape), args.out, opset_version=args.opset,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    print(json.dumps({"torch_accuracy": acc, "n": len(y), "onnx": args.out, "opset": args.opset}))


def read_cifar_test(ddir):
    path = os.path.join(ddir, "cifar-10-batches-bin", "test_batch.bin")
    try:
        raw = np.fromfile(path, np.uint8)
    except OSError as e:
        sys.exit("torch-onnx-roundtrip: %s" % e)
    if raw.size != 10000 * 3073:
        sys.exit("torch-onnx-roundtrip: %s has %d bytes, want %d" % (path, raw.size, 10000 * 3073))
    raw = raw.reshape(10000, 3073)
    return raw[:, 1:].reshape(10000, 3, 32, 32), raw[:, 0].astype(np.int64)


def read_mnist_test(ddir):
    def idx(name, off):
        for n in (name + ".gz", name):
            p = os.path.join(ddir, "mnist", n)
            if os.path.exists(p):
                with (gzip.open if n.endswith(".gz") else open)(p, "rb") as f:
                    return np.frombuffer(f.read()[off:], np.uint8)
        sys.exit("torch-onnx-roundtrip: no %s in %s" % (name, os.path.join(ddir, "mnist")))
    x = idx("t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    y = idx("t10k-labels-idx1-ubyte", 8).astype(np.int64)
    return x, y


if __name__ == "__main__":
    main()
