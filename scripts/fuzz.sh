#!/usr/bin/env bash
# Runs every Fuzz target in the module briefly (FUZZTIME, default 5s each).
# The seed corpora already run as part of `go test`; this adds fresh inputs.
#
# Go's fuzzer sometimes reports "context deadline exceeded" when -fuzztime
# expires while a worker is busy (a loaded machine makes this likelier); that
# is not a finding (no failing input is written), so such a run is retried,
# up to 3 times (one retry was not always enough beside a background run).
# Real failures (a "Failing input written to ..." line) fail at once.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-5s}"
fuzz1() { # dir fn
  local out try
  for try in 1 2 3 4; do
    if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1" 2>&1); then
      printf '%s\n' "$out"
      return 0
    fi
    printf '%s\n' "$out"
    if ! grep -q 'context deadline exceeded' <<<"$out" || grep -q 'Failing input written' <<<"$out"; then
      return 1
    fi
    [ "$try" -lt 4 ] && echo "fuzz $1 $2: deadline hiccup of the fuzzing engine, no failing input; retry $try of 3"
  done
  return 1
}
{ grep -rl --include='*_test.go' '^func Fuzz' . || true; } | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $fn ($t)"
    fuzz1 "$dir" "$fn"
  done
done
