#!/usr/bin/env bash
# premise-lan.sh — issue 15's premise in LAN latency, alone: the online
# latency of ResNet-20 all-ReLU and of AutoReP 12.9K degree 1 (original
# CIFAR-10) in the twoparty suite, server and client as OS processes over TLS
# on the emulated LAN (3 Gbit/s, 0.3 ms RTT, --emulate-link; DESIGN §2.4),
# every image's offline phase prepared ahead (scripts/serve-bench.sh). Meant
# for an idle window of about 10 minutes: run nothing else beside it.
#
# Usage:
#   scripts/premise-lan.sh BIN [--n N] [--data DIR] [--out DIR] [--link lan|wan|loopback]
#
#   BIN     autorep binary (built with GOEXPERIMENT=simd)
#   --n     test images per model (default 4: images 0, 2500, 5000, 7500)
#   --data  directory holding cifar-10-batches-bin/ (default $AUTOREP_DATA)
#   --out   directory for serve-bench's reports (default a temporary one)
#
# Prints the load average, then one line per model (labels equal to the
# plaintext ones, online ms median / mean / min, CPU-s per image, the bytes
# and rounds), then the all-ReLU ÷ 12.9K ratio of the median and mean
# online latency. Exit status: serve-bench's (0 only if every label agrees).
# The settings are those of the agreement runs (docs/BENCHMARKS.md, session
# 12): all-ReLU f 8, ℓ 28; 12.9K d1 f 10, ℓ 32, P 36 bits.
set -euo pipefail

die() { echo "premise-lan.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: scripts/premise-lan.sh BIN [--n N] [--data DIR] [--out DIR] [--link lan|wan|loopback]"
bin=$1
shift
n=4
data=${AUTOREP_DATA:-}
out=
link=lan
while [ $# -gt 0 ]; do
	case "$1" in
	--n) n=$2; shift ;;
	--data) data=$2; shift ;;
	--out) out=$2; shift ;;
	--link) link=$2; shift ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[ -x "$bin" ] || die "no autorep binary at $bin"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--n must be a positive integer"
[ -n "$data" ] && [ -d "$data/cifar-10-batches-bin" ] ||
	die "no original CIFAR-10 at '${data}/cifar-10-batches-bin' (--data DIR or AUTOREP_DATA; scripts/cifar10-lossless-from-npm.py writes it)"
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
relu=models/resnet20-cifar10-lossless.safetensors
d1=models/resnet20-cifar10-lossless-autorep12.9k-d1.safetensors
for m in "$relu" "$d1"; do [ -f "$m" ] || die "no model file $m"; done
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/premise-lan.XXXXXX")
fi
mkdir -p "$out"
echo "premise-lan: $(date -u +%FT%TZ), link $link, $n images per model, load average$(uptime | sed 's/.*load average//')" >&2

# run LABEL MODEL FLAGS...: one serve-bench run; prints its summary line.
run() {
	local label=$1 model=$2
	shift 2
	local rc=0
	AUTOREP_DATA=$data scripts/serve-bench.sh --bin "$bin" --suite twoparty --dataset cifar10 --n "$n" --link "$link" \
		--model "$model" --label "$label" --out "$out" "$@" > "$out/$label.summary.json" 2> "$out/$label.stderr" || rc=$?
	# 3: the run finished but some private label differs (summary written).
	if [ "$rc" != 0 ]; then
		echo "premise-lan: $label: serve-bench exit $rc: $(tail -2 "$out/$label.stderr")" >&2
		[ "$rc" = 3 ] || exit "$rc"
		status=3
	fi
	python3 - "$out/$label.summary.json" << 'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o = s["online_ms"]
print(f"{s['label']}: {s['labels_equal_plaintext']}/{s['n']} labels equal, online ms median {o['median']:,.0f} "
      f"mean {o['mean']:,.0f} min {o['min']:,.0f}, CPU-s/image {s.get('cpu_seconds_per_inference', float('nan')):.2f}, "
      f"online {s['online_bytes_per_inference']:,.0f} B, {s['rounds_per_inference']:.0f} rounds")
PY
}
status=0
run resnet20-all-relu "$relu" --frac 8 --ell 28
run resnet20-autorep12.9k-d1 "$d1" --frac 10 --ell 32 --pbits 36
python3 - "$out/resnet20-all-relu.summary.json" "$out/resnet20-autorep12.9k-d1.summary.json" << 'PY'
import json, sys
a, b = (json.load(open(p))["online_ms"] for p in sys.argv[1:])
print(f"all-ReLU / 12.9K d1 online latency: median {a['median'] / b['median']:.2f}x, mean {a['mean'] / b['mean']:.2f}x")
PY
echo "premise-lan: done $(date -u +%FT%TZ), load average$(uptime | sed 's/.*load average//'); reports in $out" >&2
exit "$status"
