#!/usr/bin/env bash
# agree-twoparty.sh: issue 15's ≥ 1,000-image agreement run of the twoparty
# suite, in resumable chunks: `autorep bench pi --suite twoparty --skip K
# --n CHUNK` per chunk into OUT/NAME-K.json; rerunning skips the chunks
# whose JSON is complete, so an interrupted run continues where it stopped.
# At the end it prints the agreement over all chunks.
#
#   scripts/agree-twoparty.sh --bin BIN --model FILE --out DIR [--from 0] [--n 1000] [--chunk 50] -- BENCH-PI-FLAGS...
#
# --from K starts at image K (a multiple of --chunk) and sums images K..n-1
# only: for a run continued on a new machine whose earlier chunks are
# recorded elsewhere.
#
# e.g. nohup nice -n 15 scripts/agree-twoparty.sh --bin /root/autorep-runs/bin-autorep-X \
#        --model models/resnet20-cifar10-autorep12.9k.safetensors --out /root/autorep-runs/agree \
#        -- --dataset cifar10 --data /root/autorep-data --frac 9 --ell 30 --pbits 33 &
main() {
  set -euo pipefail
  local bin="" model="" out="" from=0 n=1000 chunk=50
  while [ $# -gt 0 ]; do
    case $1 in
      --bin) bin=$2; shift 2 ;;
      --model) model=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --from) from=$2; shift 2 ;;
      --n) n=$2; shift 2 ;;
      --chunk) chunk=$2; shift 2 ;;
      --) shift; break ;;
      *) echo "agree-twoparty: unknown flag $1" >&2; exit 2 ;;
    esac
  done
  [ -x "$bin" ] && [ -f "$model" ] && [ -n "$out" ] || { echo "agree-twoparty: need --bin, --model and --out" >&2; exit 2; }
  mkdir -p "$out"
  local name; name=$(basename "$model" .safetensors)
  local k
  for ((k = from; k < n; k += chunk)); do
    local f="$out/$name-$k.json" m=$(( n - k < chunk ? n - k : chunk ))
    if [ -s "$f" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$f" 2>/dev/null; then
      continue
    fi
    echo "$(date -u +%FT%TZ) $name: images $k..$((k + m - 1))"
    "$bin" bench pi --suite twoparty --model "$model" --skip "$k" --n "$m" --json "$@" > "$f.part" 2>> "$out/$name.log"
    mv "$f.part" "$f"
  done
  python3 - "$out" "$name" "$from" "$n" "$chunk" <<'PY'
import json, sys
out, name, start, n, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
imgs = agree = 0
for k in range(start, n, chunk):
    d = json.load(open(f"{out}/{name}-{k}.json"))
    imgs += d["n"]
    agree += round(d["agree"] * d["n"])
    if d["agree"] < 1:
        # Binaries before the disagreements field name only the chunk.
        for x in d.get("disagreements") or [{"image": f"{k}..{k + d['n'] - 1}"}]:
            print(f"{name}: image {x['image']} differs: {json.dumps(x)}")
print(f"{name}: private labels equal the fixed-point executor's on {agree}/{imgs} images ({start}..{n - 1})")
PY
}
main "$@"
