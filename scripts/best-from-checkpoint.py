#!/usr/bin/env python3
"""best-from-checkpoint.py: write a reduce run's best snapshot from a phase
checkpoint, so that a finished search can be finetuned again with another
schedule.

    scripts/best-from-checkpoint.py RUN.safetensors.ckpt.search NEW.safetensors.ckpt.best

`autorep reduce` keeps the best model within budget in OUT.ckpt.best and
finetunes from it; its finetune epochs overwrite that file as soon as they
beat the search. To run a longer finetune from the same search (issue 18:
ResNet-18 at 12.9K, 4 search + 6 finetune epochs), copy the finished search
checkpoint to a new prefix, write the best snapshot from it with this
script (the model tensors of the checkpoint, "model." prefix dropped; the
checkpoint's run record left out), and resume with the new finetune flags:

    cp RUN.safetensors.ckpt.search NEW.safetensors.ckpt.search
    scripts/best-from-checkpoint.py NEW.safetensors.ckpt.search NEW.safetensors.ckpt.best
    autorep reduce ... --epochs 4 --finetune-epochs 6 --finetune-lr 0.01 --out NEW.safetensors --resume

This is the snapshot the search wrote when its last epoch was its best
within budget (the checkpoint's run record says which epoch was); the
script refuses a checkpoint whose best is another epoch.
"""
import json
import struct
import sys


def header(f):
    n = struct.unpack("<Q", f.read(8))[0]
    if n > 1 << 28:
        raise SystemExit(f"{f.name}: header of {n} bytes: not a safetensors file")
    return 8 + n, json.loads(f.read(n))


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        base, h = header(f)
        meta = dict(h.get("__metadata__", {}))
        rec = meta.pop("autorep.checkpoint", None)
        if rec is None:
            raise SystemExit(f"{src}: no autorep.checkpoint record: not a phase checkpoint")
        state = json.loads(rec)
        hist = state.get("history") or []
        best = ((state.get("extra") or {}).get("reduce") or {}).get("best")
        if not hist or best is None:
            raise SystemExit(f"{src}: the run has no finished epoch within its budget")
        last = hist[-1]
        if best.get("epoch") != last.get("epoch") or best.get("relus") != last.get("relus"):
            raise SystemExit(f"{src}: the run's best is {best.get('phase')} epoch {best.get('epoch')}, "
                             f"not the checkpoint's epoch {last.get('epoch')}: its model is not the best snapshot")
        names = sorted(k[len("model."):] for k in h if k.startswith("model."))
        if not names:
            raise SystemExit(f"{src}: no model tensors")
        out, blobs, off = {"__metadata__": meta}, [], 0
        for k in names:
            e = h["model." + k]
            s, t = e["data_offsets"]
            f.seek(base + s)
            b = f.read(t - s)
            if len(b) != t - s:
                raise SystemExit(f"{src}: truncated at tensor {k}")
            blobs.append(b)
            out[k] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": [off, off + len(b)]}
            off += len(b)
    j = json.dumps(out, separators=(",", ":")).encode()
    j += b" " * ((8 - len(j) % 8) % 8)
    with open(dst, "wb") as o:
        o.write(struct.pack("<Q", len(j)))
        o.write(j)
        for b in blobs:
            o.write(b)
    print(f"{dst}: {len(names)} tensors from {best.get('phase')} epoch {best.get('epoch')} of {src} "
          f"({best.get('relus')} ReLUs, test accuracy {best.get('test_acc'):.2f}%)")


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, struct.error) as e:
        # A damaged or foreign file: say which and why, not a traceback.
        raise SystemExit(f"best-from-checkpoint: {sys.argv[1] if len(sys.argv) > 1 else ''}: {type(e).__name__}: {e}")
