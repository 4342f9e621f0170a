#!/usr/bin/env bash
# issue18-queue.sh: the issue-18 ResNet-18 reduction runs, one at a time,
# resumable. Rerunning it after an interruption continues where it
# stopped: finished runs (output model + JSON summary present) are
# skipped, an interrupted run gets --resume. Run from the repository root:
#
#   nohup nice -n 10 scripts/issue18-queue.sh >> /root/autorep-runs/r18/queue.log 2>&1 &
#
# 0. Waits (polling every POLL seconds) until the 40-epoch ResNet-18
#    training run writes its final model $BASE, then evaluates it on the
#    original CIFAR-10 ($RUNS/resnet18-cifar10.eval.json, .relus.json).
# 1. From it, on the original CIFAR-10 ($ORIG_DATA), EPOCHS search (SNL:
#    at most EPOCHS L1) + FT finetune epochs, seed 1, distillation from
#    the base (the default), one schedule for both methods:
#    a. AutoReP degree 2 at 12.9K (--score-lr 0.01, as issue 17),
#    b. SNL at 12.9K,
#    c. AutoReP degree 2 and SNL at 25K, then at 50K (an SNL run continues
#       from the 12.9K run's L1 checkpoint when that phase ran all its
#       epochs above the run's budget: the L1 phase is then the same
#       computation for every such budget).
#    d. at 12.9K, 10 search + 2 finetune epochs (LONG_FLAGS), AutoReP right
#       after b., SNL in f.: the issue's ≥ 91% needs more than 4 + 1
#       epochs, and a 6-epoch finetune at lr 0.01 from the 4-epoch
#       search collapsed (docs/RESULTS.md, session 18).
#    e. if d.'s AutoReP model ends under 91% (the issue's bar), its
#       finished 10-epoch search finetuned for 8 epochs at the default
#       rate instead of 2 (EXTRA_FT): the search checkpoint copied and its
#       best snapshot written by scripts/best-from-checkpoint.py, which
#       gives the uninterrupted run --epochs 10 --finetune-epochs 8 bit
#       for bit (reduce/extend_test.go); right after d.
#    f. SNL at 12.9K on e.'s schedule (10 + 8), then 10 + 2 from its L1
#       phase (finetune only), last.
#    Outputs and logs in $RUNS; each run's eval and relus JSON beside it.
#    Finished models are not copied to models/ (45 MB each; committing
#    one is a decision, see docs/RESULTS.md).
#
# Environment: RUNS (default /root/autorep-runs/r18), BIN (the autorep
# binary, default $RUNS/../bin-autorep-e9e277a, built from a clean export
# of commit e9e277a: mid-epoch checkpoints; runs before 13:24 UTC on
# 2026-12-06 used 94664a1), BASE (default
# models/resnet18-cifar10.safetensors, the committed 94.23% base), ORIG_DATA
# (/root/autorep-data), EPOCHS (4), FT (1), POLL (300), LONG_FLAGS (the
# longer runs' schedule, default --epochs 10 --finetune-epochs 2).
# The body is one function so that editing the file cannot change a
# running queue.
main() {
  set -euo pipefail
  local runs=${RUNS:-/root/autorep-runs/r18}
  local bin=${BIN:-$runs/../bin-autorep-e9e277a}
  local base=${BASE:-models/resnet18-cifar10.safetensors}
  local orig=${ORIG_DATA:-/root/autorep-data}
  local epochs=${EPOCHS:-4}
  local sched=(--epochs "$epochs" --finetune-epochs "${FT:-1}" --seed 1)
  local poll=${POLL:-300}
  mkdir -p "$runs"
  [ -x "$bin" ] || { echo "issue18-queue: no binary at $bin" >&2; exit 1; }
  [ -d "$orig" ] || { echo "issue18-queue: no data directory $orig" >&2; exit 1; }

  # The training run writes $base once, after its last epoch.
  if [ ! -f "$base" ]; then
    echo "$(date -u +%FT%TZ) waiting for $base"
    while [ ! -f "$base" ]; do sleep "$poll"; done
    sleep 5 # let the writer close the file
  fi
  local b=$runs/resnet18-cifar10
  if [ ! -f "$b.eval.json" ]; then
    "$bin" eval --data "$orig" --dataset cifar10 --model "$base" --json > "$b.eval.json.part"
    mv "$b.eval.json.part" "$b.eval.json"
    "$bin" relus --model "$base" --json > "$b.relus.json"
    echo "$(date -u +%FT%TZ) base: $(cat "$b.eval.json")"
  fi

  # finished NAME: whether run NAME wrote its JSON summary and its model
  # (on a new machine the JSON comes back with runstate/ and the committed
  # models/NAME.safetensors stands for the model).
  finished() {
    [ -f "$runs/$1.json" ] && { [ -f "$runs/$1.safetensors" ] || [ -f "models/$1.safetensors" ]; }
  }

  # run NAME reduce-flags...: one reduce into $runs/NAME, then eval and
  # relus of its output.
  run() {
    local name=$1; shift
    local out=$runs/$name.safetensors
    if finished "$name"; then
      echo "$(date -u +%FT%TZ) $name: done, skipping"
      return 0
    fi
    local resume=()
    ls "$out".ckpt.* >/dev/null 2>&1 && resume=(--resume)
    echo "$(date -u +%FT%TZ) $name: start ${resume[*]:-} ($bin $*)"
    "$bin" reduce --data "$orig" --dataset cifar10 --model "$base" "${sched[@]}" "$@" \
      --out "$out" "${resume[@]}" --json > "$runs/$name.json.part" 2>> "$runs/$name.log"
    mv "$runs/$name.json.part" "$runs/$name.json"
    "$bin" eval --data "$orig" --dataset cifar10 --model "$out" --json > "$runs/$name.eval.json"
    "$bin" relus --model "$out" --json > "$runs/$name.relus.json"
    echo "$(date -u +%FT%TZ) $name: finished: $(cat "$runs/$name.eval.json")"
  }

  # seed_snl NAME BUDGET [FROM [L1EPOCHS]]: start SNL run NAME from run
  # FROM's (default snl12.9k) finished L1 phase of L1EPOCHS (default
  # $epochs) epochs if every one of them stayed above BUDGET ReLUs (else
  # NAME runs its own). The L1 phase depends on neither the budget nor
  # the finetune's length, only on its epoch count.
  seed_snl() {
    local src=$runs/${3:-resnet18-cifar10-snl12.9k}
    [ -f "$src.json" ] || return 0
    finished "$1" && return 0
    ls "$runs/$1.safetensors.ckpt."* >/dev/null 2>&1 && return 0
    if python3 - "$src.json" "$2" "${4:-$epochs}" <<'PY'; then
import json, sys
h = [e for e in json.load(open(sys.argv[1]))["history"] if e["phase"] == "l1"]
sys.exit(0 if len(h) == int(sys.argv[3]) and min(e["relus"] for e in h) > int(sys.argv[2]) else 1)
PY
      if [ ! -f "$src.safetensors.ckpt.l1" ]; then
        # A new machine has the JSON (runstate/) but not the checkpoint.
        echo "$(date -u +%FT%TZ) $1: $src's L1 checkpoint is gone (new machine?): runs its own L1 phase"
        return 0
      fi
      cp "$src.safetensors.ckpt.l1" "$runs/$1.safetensors.ckpt.l1"
      echo "$(date -u +%FT%TZ) $1: continues from $src's L1 checkpoint"
    fi
  }

  # seed_search NAME FROM: run NAME continues from run FROM's finished
  # search with its own finetune flags (nothing to do once NAME has a
  # checkpoint or FROM has not finished).
  seed_search() {
    local dst=$runs/$1.safetensors
    [ -f "$runs/$2.json" ] || return 0
    finished "$1" && return 0
    ls "$dst".ckpt.* >/dev/null 2>&1 && return 0
    if [ ! -f "$runs/$2.safetensors.ckpt.search" ]; then
      echo "$(date -u +%FT%TZ) $1: $2's search checkpoint is gone (new machine?): runs its own search"
      return 0
    fi
    cp "$runs/$2.safetensors.ckpt.search" "$dst.ckpt.search"
    python3 scripts/best-from-checkpoint.py "$dst.ckpt.search" "$dst.ckpt.best"
    echo "$(date -u +%FT%TZ) $1: continues from $2's search checkpoint"
  }
  # below NAME PERCENT: whether run NAME's evaluated accuracy is below PERCENT.
  below() {
    python3 -c 'import json,sys; sys.exit(0 if 100*json.load(open(sys.argv[1]))["accuracy"] < float(sys.argv[2]) else 1)' \
      "$runs/$1.eval.json" "$2"
  }

  local p=resnet18-cifar10
  local long=(${LONG_FLAGS:---epochs 10 --finetune-epochs 2})
  run $p-autorep12.9k-d2 --method autorep --budget 12.9k --degree 2 --score-lr 0.01
  run $p-snl12.9k --method snl --budget 12.9k
  run $p-autorep12.9k-d2-e12 --method autorep --budget 12.9k --degree 2 --score-lr 0.01 "${long[@]}"
  local ft=${EXTRA_FT:-8}
  if below $p-autorep12.9k-d2-e12 91; then
    seed_search $p-autorep12.9k-d2-e10ft$ft $p-autorep12.9k-d2-e12
    run $p-autorep12.9k-d2-e10ft$ft --method autorep --budget 12.9k --degree 2 --score-lr 0.01 "${long[@]}" --finetune-epochs "$ft"
  fi
  local n
  for n in 25000 50000; do
    local k=$((n / 1000))k
    run $p-autorep$k-d2 --method autorep --budget "$n" --degree 2 --score-lr 0.01
    seed_snl $p-snl$k "$n"
    run $p-snl$k --method snl --budget "$n"
  done
  # f. SNL at 12.9K on item e.'s schedule (10 + EXTRA_FT), then
  # 10 + 2 from the same L1 phase (finetune only).
  run $p-snl12.9k-e10ft$ft --method snl --budget 12.9k "${long[@]}" --finetune-epochs "$ft"
  local i long_epochs=$epochs
  for ((i = 0; i + 1 < ${#long[@]}; i++)); do
    [ "${long[i]}" = --epochs ] && long_epochs=${long[i + 1]}
  done
  seed_snl $p-snl12.9k-e12 12900 $p-snl12.9k-e10ft$ft "$long_epochs"
  run $p-snl12.9k-e12 --method snl --budget 12.9k "${long[@]}"
  echo "$(date -u +%FT%TZ) queue finished"
}
main "$@"
