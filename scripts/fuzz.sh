#!/usr/bin/env bash
# Runs every Fuzz target in the module briefly (FUZZTIME, default 5s each).
# The seed corpora already run as part of `go test`; this adds fresh inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-5s}"
{ grep -rl --include='*_test.go' '^func Fuzz' . || true; } | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $fn ($t)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$dir"
  done
done
