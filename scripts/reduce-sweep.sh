#!/usr/bin/env bash
# reduce-sweep.sh: the issue-3 experiment. Reduces one trained model with
# AutoReP and SNL at several ReLU budgets, with the same seed and epoch
# budget for both methods, one run after the other; every run is resumable,
# so rerunning the script after an interruption continues where it stopped
# (finished runs are skipped). Ends with a ReLU-count check of every output,
# a table and the accuracy-vs-ReLUs plot.
#
#   scripts/reduce-sweep.sh BASE.safetensors OUTPREFIX [budget...]
#
# e.g. scripts/reduce-sweep.sh models/resnet20-cifar10.safetensors models/resnet20-cifar10 12.9k 25k 50k
# writes models/resnet20-cifar10-{autorep,snl}{12.9k,25k,50k}.safetensors,
# their logs and JSON summaries under runs/sweep/, and OUTPREFIX-relu-acc.png.
# Environment: AUTOREP (binary, default bin/autorep), EPOCHS (search, 10),
# FT_EPOCHS (finetune, 2), SEED (1), METHODS ("autorep snl"), NICE (5),
# EXTRA (more reduce flags, e.g. "--cost cost.json").
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,16p "$0"; exit 2; }
base=$1 prefix=$2; shift 2
budgets=("$@"); [ ${#budgets[@]} -gt 0 ] || budgets=(12.9k 25k 50k)
bin=${AUTOREP:-bin/autorep}
epochs=${EPOCHS:-10} ft=${FT_EPOCHS:-2} seed=${SEED:-1} nice=${NICE:-5}
methods=${METHODS:-autorep snl}
logs=runs/sweep; mkdir -p "$logs"
[ -x "$bin" ] || { echo "reduce-sweep: no binary at $bin (make build, or set AUTOREP)" >&2; exit 1; }
[ -f "$base" ] || { echo "reduce-sweep: no base model $base" >&2; exit 1; }

outs=()
for b in "${budgets[@]}"; do
  for m in $methods; do
    out="$prefix-$m$b.safetensors" name=$(basename "$prefix-$m$b")
    outs+=("$out")
    if [ -f "$out" ] && [ -f "$logs/$name.json" ]; then
      echo "reduce-sweep: $out exists, skipping" >&2; continue
    fi
    resume=()
    ls "$out".ckpt.* >/dev/null 2>&1 && resume=(--resume)
    echo "reduce-sweep: $m at $b -> $out ${resume[*]:-}" >&2
    # shellcheck disable=SC2086
    nice -n "$nice" "$bin" reduce --model "$base" --method "$m" --budget "$b" \
      --epochs "$epochs" --finetune-epochs "$ft" --seed "$seed" ${EXTRA:-} \
      --out "$out" "${resume[@]}" --json > "$logs/$name.json.part" 2>> "$logs/$name.log"
    mv "$logs/$name.json.part" "$logs/$name.json"
  done
done

# Every output must be within its budget, counted by 'autorep relus'.
printf '| model | method | budget | ReLUs | test accuracy |\n|---|---|---|---|---|\n'
fail=0
for out in "${outs[@]}"; do
  name=$(basename "$out" .safetensors)
  relus=$("$bin" relus --model "$out" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  python3 - "$logs/$name.json" "$relus" "$name" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1])); relus = int(sys.argv[2])
acc = r["accuracy"]  # percent in reduce --json (docs/CLI.md)
print(f"| {sys.argv[3]} | {r.get('method')} | {r.get('budget')} | {relus} | {acc:.2f}% |")
if relus > int(r["budget"]):
    print(f"reduce-sweep: {sys.argv[3]}: {relus} ReLUs above the budget {r['budget']}", file=sys.stderr); sys.exit(1)
PY
done
"$bin" plot --out "$prefix-relu-acc.png" --title "$(basename "$prefix"): accuracy vs ReLUs" "$base" "${outs[@]}"
exit $fail
