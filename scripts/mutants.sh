#!/usr/bin/env bash
# mutants.sh — does the test suite notice deliberate breaks?
#
# Usage: scripts/mutants.sh [--rev REV] [--keep] [--no-baseline] [NAME ...]
#
# For each mutant (all of scripts/mutants/*.sh, or the NAMEs given) the
# script exports commit REV (default HEAD) of this repository into a
# scratch directory (git archive: /work/main's files, index and history are
# never touched), applies the mutant's edit there and runs `go test` on the
# mutant's packages. A mutant is
#   KILLED    if some test failed (the failing tests are listed),
#   SURVIVED  if every test passed: the suite misses that break,
#   ERROR     if its edit did not apply (the code it targets changed) or the
#             mutated code does not compile: fix the mutant.
# Before the mutants, the unmutated copy's tests must pass (the baseline;
# --no-baseline skips it). Exit status: 0 if every mutant was KILLED, 1 if
# any SURVIVED, 2 on any ERROR or a failing baseline.
#
# --rev REV runs the mutants of the current scripts/mutants/ against an
# older commit, e.g. the commit before a test was added, to show that the
# test is what kills a mutant. --keep keeps the scratch directory and the
# logs (printed at the end). Environment: GOEXPERIMENT (default simd, as the
# Makefile), MUTANT_TIMEOUT (go test -timeout, default 10m), MUTANT_TESTFLAGS
# (extra go test flags for the baseline and every mutant, e.g.
# "-skip TestProcesses" when a test cannot run in the scratch copy).
#
# A mutant is one file scripts/mutants/NAME.sh, sourced by bash in the
# scratch copy's root. It sets
#   DESCRIPTION="what breaks, and what a real run would leak or get wrong"
#   PACKAGES="./mpc ./pi"        # go test arguments: the packages to run
#   TESTFLAGS="-short"           # optional extra go test flags
# and defines a function `apply` that makes the edit with
#   mutate FILE PERL-SUBSTITUTION
# (perl -0pi -e on FILE, so patterns can span lines); mutate fails, making
# the mutant an ERROR, when the substitution changes nothing. Keep each
# mutant to one deliberate break (several mutate calls are fine when one
# break needs them, e.g. a mask removed where it is made and where it is
# used), and name in a comment the test expected to kill it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rev=HEAD
keep=0
baseline=1
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--rev) rev=${2:?--rev needs a commit}; shift 2 ;;
	--keep) keep=1; shift ;;
	--no-baseline) baseline=0; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mutants.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1"); shift ;;
	esac
done
export GOEXPERIMENT=${GOEXPERIMENT-simd}
timeout=${MUTANT_TIMEOUT:-10m}
# shellcheck disable=SC2206
extra=(${MUTANT_TESTFLAGS:-})
mdir=$root/scripts/mutants
if [ ${#names[@]} -eq 0 ]; then
	for f in "$mdir"/*.sh; do
		[ -e "$f" ] || continue
		n=$(basename "$f" .sh)
		names+=("$n")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "mutants.sh: no mutants in $mdir" >&2
	exit 2
fi
for n in "${names[@]}"; do
	[ -f "$mdir/$n.sh" ] || { echo "mutants.sh: no mutant $mdir/$n.sh" >&2; exit 2; }
done
commit=$(git -C "$root" rev-parse --verify "$rev^{commit}")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mutants.XXXXXX")
cleanup() { if [ $keep -eq 0 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi; }
trap cleanup EXIT
mkdir -p "$tmp/base" "$tmp/logs"
git -C "$root" archive "$commit" | tar -x -C "$tmp/base"
# Every run uses the same path, so the build cache serves unchanged packages.
work=$tmp/work

fresh() {
	rm -rf "$work"
	cp -a "$tmp/base" "$work"
}

# mutate FILE PERL-SUBSTITUTION: edit FILE in the scratch copy; an edit that
# changes nothing is an error.
mutate() {
	local f=$1 expr=$2
	# exit, not return: apply runs in a subshell, and the first failing
	# edit must fail it whatever follows.
	[ -f "$f" ] || { echo "mutate: no file $f" >&2; exit 1; }
	local before
	before=$(sha256sum <"$f")
	perl -0pi -e "$expr" "$f"
	if [ "$(sha256sum <"$f")" = "$before" ]; then
		echo "mutate: $expr changed nothing in $f" >&2
		exit 1
	fi
}

# load NAME: read the mutant's declarations in a subshell-safe way.
load() {
	DESCRIPTION= PACKAGES= TESTFLAGS=
	unset -f apply 2>/dev/null || true
	# shellcheck source=/dev/null
	. "$mdir/$1.sh"
	[ -n "$PACKAGES" ] || { echo "mutant $1: no PACKAGES" >&2; return 1; }
	declare -F apply >/dev/null || { echo "mutant $1: no apply function" >&2; return 1; }
}

# failing LOG: the failed tests in a go test log, by package ("mpc:
# TestA,TestB; pi: TestC"); subtests are named by their top-level test.
failing() {
	local module
	module=$(awk '/^module /{print $2; exit}' "$root/go.mod")
	awk -v mod="$module/" '
		/^--- FAIL: / { n = $3; sub(/\/.*/, "", n); if (!(n in seen)) { seen[n] = 1; buf = buf (buf ? "," : "") n } }
		/^FAIL\t/ { if (buf != "") { p = $2; sub(mod, "", p); out = out (out ? "; " : "") p ": " buf; buf = ""; delete seen } }
		END { print out }' "$1"
}

echo "mutants of $(git -C "$root" log -1 --format='%h %s' "$commit" | cut -c1-72)"
if [ $baseline -eq 1 ]; then
	pkgs=()
	for n in "${names[@]}"; do
		load "$n"
		# shellcheck disable=SC2206
		pkgs+=($PACKAGES)
	done
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	fresh
	echo "baseline: go test ${pkgs[*]}"
	if ! (cd "$work" && go test -count=1 -timeout "$timeout" "${extra[@]}" "${pkgs[@]}") >"$tmp/logs/baseline.log" 2>&1; then
		echo "BASELINE FAILS (failing: $(failing "$tmp/logs/baseline.log")); see $tmp/logs/baseline.log" >&2
		keep=1
		exit 2
	fi
fi

killed=0 survived=0 errors=0
for n in "${names[@]}"; do
	log=$tmp/logs/$n.log
	fresh
	status=
	if ! load "$n" >"$log" 2>&1; then
		status=ERROR
	elif ! (cd "$work" && apply) >>"$log" 2>&1; then
		status=ERROR
	elif ! (cd "$work" && go test -count=1 -run '^$' $PACKAGES) >>"$log" 2>&1; then
		echo "mutated code does not compile" >>"$log"
		status=ERROR
	else
		# shellcheck disable=SC2086
		if (cd "$work" && go test -count=1 -timeout "$timeout" "${extra[@]}" $TESTFLAGS $PACKAGES) >>"$log" 2>&1; then
			status=SURVIVED
		else
			status=KILLED
		fi
	fi
	case $status in
	KILLED) killed=$((killed + 1)); printf 'KILLED    %-24s by %s\n' "$n" "$(failing "$log")" ;;
	SURVIVED) survived=$((survived + 1)); printf 'SURVIVED  %-24s %s\n' "$n" "$DESCRIPTION" ;;
	ERROR) errors=$((errors + 1)); printf 'ERROR     %-24s %s\n' "$n" "$(grep -m1 -E 'mutate:|mutant|does not compile|\.go:[0-9]+' "$log" || echo "see $log")"; keep=1 ;;
	esac
done
echo "$killed killed, $survived survived, $errors errors (of ${#names[@]})"
[ $keep -eq 1 ] && echo "logs: $tmp/logs"
if [ $errors -gt 0 ]; then exit 2; fi
if [ $survived -gt 0 ]; then exit 1; fi
exit 0
