#!/usr/bin/env bash
# serve-chunks.sh — many consecutive test images through real processes
# (scripts/serve-bench.sh: server and client, plus the dealer in the dealer
# suite, TLS over TCP), in chunks of one session each, so a run that is
# stopped loses at most the chunk it was in: a rerun with the same arguments
# skips every chunk whose summary JSON exists. At the end (and after each
# chunk) it prints the running total: images run, private labels equal to the
# plaintext (float) and fixed-point ones.
#
# Usage:
#   scripts/serve-chunks.sh --out DIR [--first I] [--images N] [--chunk C] -- SERVE-BENCH-ARGS...
#
#   --out     directory of the chunks' reports (required; reused to resume)
#   --first   first test image (default 0)
#   --images  images in all (default 200): images FIRST .. FIRST+N-1, stride 1
#   --chunk   images per chunk, i.e. per session (default 25)
#   after --:  serve-bench.sh's arguments except --n, --index, --stride and
#             --out (e.g. --bin BIN --suite twoparty --dataset cifar10 --model
#             FILE --frac 10 --ell 32 --pbits 36)
#
# Example (issue 15: 200 original CIFAR-10 test images, AutoReP 12.9K d1,
# twoparty suite, loopback with TLS):
#   AUTOREP_DATA=/root/autorep-data nice -n 5 scripts/serve-chunks.sh --out runs/200 -- \
#     --bin BIN --suite twoparty --dataset cifar10 \
#     --model models/resnet20-cifar10-lossless-autorep12.9k-d1.safetensors --frac 10 --ell 32 --pbits 36
#
# Output: DIR/chunks.log (one line per chunk: UTC time, load average, its
# serve-bench row), DIR/total.json (images, labels equal to plaintext and to
# the fixed-point labels, the chunks done). Exit status 0 only if every chunk
# ran and every private label equals the plaintext one; 3 if some differ;
# 1 if a chunk failed (the chunks after it still run).
set -euo pipefail

out=
first=0
images=200
chunk=25
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--first) first=$2; shift ;;
	--images) images=$2; shift ;;
	--chunk) chunk=$2; shift ;;
	--) shift; break ;;
	-h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0"; exit 0 ;;
	*) echo "serve-chunks.sh: unknown argument $1 (serve-bench's arguments go after --)" >&2; exit 1 ;;
	esac
	shift
done
die() { echo "serve-chunks.sh: $*" >&2; exit 1; }
[ -n "$out" ] || die "--out DIR is required"
[[ "$first" =~ ^[0-9]+$ ]] || die "--first must be a non-negative integer"
[[ "$images" =~ ^[1-9][0-9]*$ ]] || die "--images must be a positive integer"
[[ "$chunk" =~ ^[1-9][0-9]*$ ]] || die "--chunk must be a positive integer"
for a in "$@"; do
	case "$a" in --n | --index | --stride | --out) die "serve-chunks.sh sets $a itself" ;; esac
done
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(realpath "$out")

status=0
i=$first
end=$((first + images))
while [ "$i" -lt "$end" ]; do
	c=$chunk
	[ $((i + c)) -le "$end" ] || c=$((end - i))
	rc=0
	"$here/serve-bench.sh" "$@" --n "$c" --index "$i" --stride 1 --out "$out" > "$out/chunk-$i.summary.json" 2> "$out/chunk-$i.stderr" || rc=$?
	row=$(grep '^|' "$out/chunk-$i.stderr" | tail -1 || true)
	echo "$(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) images $i..$((i + c - 1)) exit $rc $row" | tee -a "$out/chunks.log" >&2
	case "$rc" in
	0) ;;
	3) [ "$status" = 1 ] || status=3 ;;
	*) status=1; echo "serve-chunks.sh: chunk at $i failed: $(tail -2 "$out/chunk-$i.stderr")" >&2 ;;
	esac
	i=$((i + c))
done

python3 - "$out" << 'PY'
import glob, json, os, sys
out = sys.argv[1]
done = []
for p in sorted(glob.glob(os.path.join(out, "chunk-*.summary.json"))):
    try:
        s = json.load(open(p))
    except (ValueError, OSError):
        continue  # a chunk that failed wrote no summary
    done.append(s)
t = {
    "chunks": len(done),
    "images": sum(s["n"] for s in done),
    "labels_equal_plaintext": sum(s["labels_equal_plaintext"] for s in done),
    "labels_equal_fixed_point": sum(s["labels_equal_fixed_point"] for s in done),
    "differ": [d for s in done for d in s["differ"]],
    "ranges": sorted([s["index"], s["index"] + s["n"] - 1] for s in done),
    "binary_sha256": sorted({s.get("binary_sha256", "") for s in done}),
}
json.dump(t, open(os.path.join(out, "total.json"), "w"), indent=1)
print(json.dumps(t))
print(f"serve-chunks: {t['labels_equal_plaintext']}/{t['images']} private labels equal the plaintext ones "
      f"({t['labels_equal_fixed_point']} the fixed-point ones) over {t['chunks']} chunks", file=sys.stderr)
PY
exit "$status"
