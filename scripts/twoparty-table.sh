#!/usr/bin/env bash
# twoparty-table.sh — issue 15's process table: ResNet-20 on the original
# CIFAR-10, the all-ReLU model and the AutoReP 12.9K degree-2 and degree-1
# models, in the twoparty suite as two OS processes (autorep serve --suite
# twoparty, autorep infer; TLS over TCP, no dealer) on each link, one
# scripts/serve-bench.sh cell per model and link, each image's offline phase
# prepared ahead. Resumable: a cell whose summary JSON exists in --out is not
# run again (its row is printed from the JSON).
#
# Usage:
#   scripts/twoparty-table.sh BIN --out DIR [--n N] [--links "loopback lan wan"] [--models "relu d2 d1"] [--data DIR]
#
#   BIN       autorep binary (GOEXPERIMENT=simd build of a clean export)
#   --out     directory of the cells' reports (required; reused to resume)
#   --n       test images per cell (default 8; --stride auto spreads them
#             over the test set: 0, 1250, ..., 8750 for 8)
#   --links   the links, in order (default "lan loopback wan"; lan / wan are
#             --emulate-link in both processes, DESIGN §2.4)
#   --models  the models, in order (default "relu d1 d2")
#   --data    directory holding cifar-10-batches-bin/ (default $AUTOREP_DATA)
#
# Widths (the agreement runs' settings): all-ReLU f 8, ℓ 28; 12.9K d1 f 10,
# ℓ 32, P 36 bits; 12.9K d2 f 10, ℓ 32, P 37 bits.
#
# Prints the table's header and one row per cell on stdout (serve-bench
# --table: model | link | labels = plaintext | online ms p50 / mean | offline
# ms p50 | total B one-image session | amortized /N | setup B | offline B |
# online B | rounds | open ms | CPU-s / image server / client | peak RSS MB
# server / client | time UTC, load average start → end), then the all-ReLU ÷
# model ratios of total bytes and online latency per link. Exit status 0 only
# if every cell ran and every private label equals the plaintext one.
#
# The premise's LAN pair alone, for an idle window (about 10 minutes):
#   scripts/twoparty-table.sh BIN --out DIR --links lan --models "relu d1"
set -euo pipefail

die() { echo "twoparty-table.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: scripts/twoparty-table.sh BIN --out DIR [--n N] [--links L] [--models M] [--data DIR]"
bin=$1
shift
out=
n=8
links="lan loopback wan"
models="relu d1 d2"
data=${AUTOREP_DATA:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--n) n=$2; shift ;;
	--links) links=$2; shift ;;
	--models) models=$2; shift ;;
	--data) data=$2; shift ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[ -x "$bin" ] || die "no autorep binary at $bin"
[ -n "$out" ] || die "--out DIR is required"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--n must be a positive integer"
[ -n "$data" ] && [ -d "$data/cifar-10-batches-bin" ] ||
	die "no original CIFAR-10 at '${data}/cifar-10-batches-bin' (--data DIR or AUTOREP_DATA; scripts/cifar10-lossless-from-npm.py writes it)"
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "$bin")
mkdir -p "$out"
out=$(realpath "$out")
cd "$here"

# cell KEY: serve-bench's label, model file and width flags of a model key.
cell() {
	case "$1" in
	relu) echo "resnet20-all-relu models/resnet20-cifar10-lossless.safetensors --frac 8 --ell 28" ;;
	d1) echo "resnet20-autorep12.9k-d1 models/resnet20-cifar10-lossless-autorep12.9k-d1.safetensors --frac 10 --ell 32 --pbits 36" ;;
	d2) echo "resnet20-autorep12.9k-d2 models/resnet20-cifar10-lossless-autorep12.9k-d2.safetensors --frac 10 --ell 32 --pbits 37" ;;
	*) return 1 ;;
	esac
}
for m in $models; do cell "$m" > /dev/null || die "unknown model key $m (relu, d1, d2)"; done
for l in $links; do case "$l" in loopback | lan | wan) ;; *) die "unknown link $l" ;; esac; done

echo "twoparty-table: $(date -u +%FT%TZ), binary $bin (sha256 $(sha256sum "$bin" | cut -c1-12)), $n images per cell, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| model | link | labels = plaintext | online ms p50 / mean | offline ms p50 | total B (1-image session) | amortized /$n | setup B | offline B | online B | rounds | open ms | CPU-s / image server / client | peak RSS MB server / client | time UTC, load average start → end |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
status=0
for l in $links; do
	for m in $models; do
		read -r label model flags <<< "$(cell "$m")"
		rc=0
		# shellcheck disable=SC2086 # flags are words
		AUTOREP_DATA=$data scripts/serve-bench.sh --bin "$bin" --suite twoparty --dataset cifar10 --n "$n" --link "$l" \
			--model "$model" --label "$label" --out "$out" $flags --table > /dev/null 2> "$out/$label-$l.stderr" || rc=$?
		row=$(grep '^|' "$out/$label-$l.stderr" | tail -1 || true)
		if [ "$rc" != 0 ]; then
			echo "twoparty-table: $label $l: serve-bench exit $rc: $(tail -2 "$out/$label-$l.stderr")" >&2
			[ "$rc" = 3 ] && [ "$status" != 1 ] && status=3
			[ "$rc" = 3 ] || status=1
		fi
		[ -z "$row" ] || echo "$row"
	done
done

# The premise's ratios, per link, from the cells that ran.
python3 - "$out" "$n" $links << 'PY'
import json, os, sys
out, n, links = sys.argv[1], sys.argv[2], sys.argv[3:]
for l in links:
    p = lambda label: os.path.join(out, f"{label}-twoparty-{l}-{n}.json")
    if not os.path.exists(p("resnet20-all-relu")):
        continue
    a = json.load(open(p("resnet20-all-relu")))
    for m in ("resnet20-autorep12.9k-d1", "resnet20-autorep12.9k-d2"):
        if os.path.exists(p(m)):
            b = json.load(open(p(m)))
            print(f"{l}: all-ReLU / {m[9:]}: total bytes (1-image session) "
                  f"{a['total_bytes_one_image_session'] / b['total_bytes_one_image_session']:.2f}x, "
                  f"online latency p50 {a['online_ms']['median'] / b['online_ms']['median']:.2f}x, "
                  f"mean {a['online_ms']['mean'] / b['online_ms']['mean']:.2f}x", file=sys.stderr)
PY
echo "twoparty-table: done $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg); reports in $out" >&2
exit "$status"
