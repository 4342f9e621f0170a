#!/usr/bin/env bash
# issue17-queue.sh: the issue-17 reduction runs, one at a time, resumable.
# Rerunning it after an interruption continues where it stopped: finished
# runs (output model + JSON summary present) are skipped, an interrupted
# run gets --resume. Run from the repository root:
#
#   nohup nice -n 10 scripts/issue17-queue.sh >> /root/autorep-runs/c10/queue.log 2>&1 &
#
# 1. ResNet-20 on the original CIFAR-10 ($ORIG_DATA), from the 91.81% base
#    models/resnet20-cifar10-lossless.safetensors, 10 search + 2 finetune
#    epochs, seed 1, AutoReP with --score-lr 0.01:
#    a. AutoReP degree 2 at 12.9K, b. SNL 12.9K, c. AutoReP degree 1 12.9K,
#    d. AutoReP degree 2 and SNL at 25K and 50K (SNL continues from the
#       12.9K run's L1 checkpoint when that phase ran all its epochs
#       without reaching 50K: the L1 phase is the same computation for
#       every budget).
#    e. AutoReP degree 2 at 12.9K with a 30 + 10 epoch schedule and the
#       defaults of (f), last (the κ = 0 + x² scaling run of session 13
#       was lost with the machine in session 16).
#    g. AutoReP degree 1 at 25K and 50K, after (d).
#    f. AutoReP degree 2 at 12.9K, 10 + 2 epochs, with the defaults of
#       d6eace6 (κ 0.25, no x² scaling, batch-norm running averages: the
#       recalibration cost the 1a run ≈ 2.5 points on the JPEG copy), first;
#       the 25K and 50K AutoReP runs (d) take the same defaults ($BIN).
#    Finished models are copied to models/ (committing them is manual); a
#    run whose model is committed and that has no checkpoint is skipped.
# 2. Item 5, the fidelity comparison on the JPEG copy ($JPEG_DATA), base
#    models/resnet20-cifar10.safetensors (88.21%), same schedule, degree 2,
#    λ 80: κ=0 + x² scaling, κ=0.25 + x² scaling, each also evaluated
#    before the batch-norm recalibration (--eval-running-bn). Needs a
#    binary with --scale-x2 and --eval-running-bn ($BIN5, a link to the
#    build of commit 1351d0a or later); skipped until one is there.
#
# Environment: RUNS (outputs and logs, default /root/autorep-runs/c10),
# BIN (binary for step 1's runs not yet finished, default
# $RUNS/../bin-autorep-d6eace6: the runs 1a-1c were made with 6182b6f), BIN5
# (binary for step 2, default $RUNS/../bin-autorep-x2), ORIG_DATA
# (/root/autorep-data), JPEG_DATA (/work/shared/datasets).
# The body is one function so that editing the file cannot change a
# running queue.
main() {
  set -euo pipefail
  local runs=${RUNS:-/root/autorep-runs/c10}
  local bin=${BIN:-$runs/../bin-autorep-d6eace6}
  local bin5=${BIN5:-$runs/../bin-autorep-x2}
  local orig=${ORIG_DATA:-/root/autorep-data} jpeg=${JPEG_DATA:-/work/shared/datasets}
  local lbase=models/resnet20-cifar10-lossless.safetensors jbase=models/resnet20-cifar10.safetensors
  local sched=(--epochs 10 --finetune-epochs 2 --seed 1)
  mkdir -p "$runs"
  [ -x "$bin" ] || { echo "issue17-queue: no binary at $bin" >&2; exit 1; }
  for f in "$lbase" "$jbase"; do
    [ -f "$f" ] || { echo "issue17-queue: no base model $f (run from the repository root)" >&2; exit 1; }
  done

  # run BIN DATA NAME COPY reduce-flags...: one reduce into $runs/NAME,
  # then eval and relus of its output; COPY=1 copies the model to models/.
  run() {
    local b=$1 data=$2 name=$3 copy=$4; shift 4
    local out=$runs/$name.safetensors
    if [ ! -x "$b" ]; then
      echo "$(date -u +%FT%TZ) $name: no binary $b, skipped"
      return 0
    fi
    if [ -f "$out" ] && [ -f "$runs/$name.json" ]; then
      echo "$(date -u +%FT%TZ) $name: done, skipping"
    elif [ "$copy" = 1 ] && [ -f "models/$name.safetensors" ] && ! ls "$out".ckpt.* >/dev/null 2>&1; then
      # Finished and committed on an earlier machine (its run directory
      # did not survive): not run again.
      echo "$(date -u +%FT%TZ) $name: committed as models/$name.safetensors, skipping"
      return 0
    else
      local resume=()
      ls "$out".ckpt.* >/dev/null 2>&1 && resume=(--resume)
      echo "$(date -u +%FT%TZ) $name: start ${resume[*]:-} ($b $*)"
      "$b" reduce --data "$data" "$@" --out "$out" "${resume[@]}" --json \
        > "$runs/$name.json.part" 2>> "$runs/$name.log"
      mv "$runs/$name.json.part" "$runs/$name.json"
      "$b" eval --data "$data" --model "$out" --json > "$runs/$name.eval.json"
      "$b" relus --model "$out" --json > "$runs/$name.relus.json"
      echo "$(date -u +%FT%TZ) $name: finished: $(cat "$runs/$name.eval.json")"
    fi
    if [ "$copy" = 1 ] && [ ! -f "models/$name.safetensors" ]; then
      cp "$out" "models/$name.safetensors"
    fi
  }

  # seed_snl NAME: start SNL run NAME from the finished L1 phase of an
  # earlier SNL run (snl12.9k, else snl25k: the one whose checkpoint is
  # still there) if it ran all its epochs above 50K ReLUs (else NAME runs
  # its own).
  seed_snl() {
    ls "$runs/$1.safetensors.ckpt."* >/dev/null 2>&1 && return 0
    local src
    for src in "$runs/resnet20-cifar10-lossless-snl12.9k" "$runs/resnet20-cifar10-lossless-snl25k"; do
      [ -f "$src.json" ] && [ -f "$src.safetensors.ckpt.l1" ] || continue
      if python3 - "$src.json" <<'PY'; then
import json, sys
h = [e for e in json.load(open(sys.argv[1]))["history"] if e["phase"] == "l1"]
sys.exit(0 if len(h) == 10 and h[-1]["relus"] > 50000 else 1)
PY
        cp "$src.safetensors.ckpt.l1" "$runs/$1.safetensors.ckpt.l1"
        echo "$(date -u +%FT%TZ) $1: continues from $src's L1 checkpoint"
        return 0
      fi
    done
  }

  fidelity() {
    # The help text goes through a variable: with pipefail, grep -q closing
    # the pipe early (or --help's own exit status) failed this check.
    local help=""
    [ -x "$bin5" ] && help=$("$bin5" reduce --help 2>&1 || true)
    if [[ $help != *eval-running-bn* || $help != *scale-x2* ]]; then
      echo "$(date -u +%FT%TZ) fidelity runs: no binary with --scale-x2 and --eval-running-bn at $bin5, skipped"
      return 0
    fi
    local f=(--model "$jbase" --method autorep --budget 12.9k "${sched[@]}" --degree 2 --lambda 80 --score-lr 0.01 --eval-running-bn)
    run "$bin5" "$jpeg" fid-k0-x2s0.1 0 "${f[@]}" --poly-bound 0 --scale-x2 0.1
    run "$bin5" "$jpeg" fid-k0.25-x2s0.1 0 "${f[@]}" --poly-bound 0.25 --scale-x2 0.1
  }

  local p=resnet20-cifar10-lossless
  local o=(--model "$lbase" "${sched[@]}")
  run "$bin" "$orig" $p-autorep12.9k-d2 1 "${o[@]}" --method autorep --budget 12.9k --degree 2 --score-lr 0.01
  run "$bin" "$orig" $p-snl12.9k 1 "${o[@]}" --method snl --budget 12.9k
  run "$bin" "$orig" $p-autorep12.9k-d1 1 "${o[@]}" --method autorep --budget 12.9k --degree 1 --score-lr 0.01
  fidelity
  # f. The 12.9K degree-2 run again with the defaults of d6eace6.
  run "$bin" "$orig" $p-autorep12.9k-d2-bnrun 1 "${o[@]}" --method autorep --budget 12.9k --degree 2 --score-lr 0.01
  run "$bin" "$orig" $p-autorep25k-d2 1 "${o[@]}" --method autorep --budget 25k --degree 2 --score-lr 0.01
  seed_snl $p-snl25k
  run "$bin" "$orig" $p-snl25k 1 "${o[@]}" --method snl --budget 25k
  run "$bin" "$orig" $p-autorep50k-d2 1 "${o[@]}" --method autorep --budget 50k --degree 2 --score-lr 0.01
  seed_snl $p-snl50k
  run "$bin" "$orig" $p-snl50k 1 "${o[@]}" --method snl --budget 50k
  # g. AutoReP degree 1 at 25K and 50K (item 4 names both degrees).
  run "$bin" "$orig" $p-autorep25k-d1 1 "${o[@]}" --method autorep --budget 25k --degree 1 --score-lr 0.01
  run "$bin" "$orig" $p-autorep50k-d1 1 "${o[@]}" --method autorep --budget 50k --degree 1 --score-lr 0.01
  # e. A longer AutoReP degree-2 search at 12.9K (30 + 10 epochs). Its
  #    first run (κ = 0, x² scaled by 0.1, running averages; search epoch
  #    11 of 30 at 87.77%) was lost with the machine in session 16, so it
  #    starts again with the defaults of (f), which item 5 found better.
  run "$bin" "$orig" $p-autorep12.9k-d2-e40 1 --model "$lbase" --epochs 30 --finetune-epochs 10 --seed 1 \
    --method autorep --budget 12.9k --degree 2 --score-lr 0.01
  echo "$(date -u +%FT%TZ) queue finished"
}
main "$@"
