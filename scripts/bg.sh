#!/usr/bin/env bash
# bg.sh: start a long run in the background, detached from the terminal
# and the session (setsid nohup), at a CPU priority that ranks it against
# the other background runs:
#
#   scripts/bg.sh --prio N --log FILE -- COMMAND [ARGS...]
#
# With the kernel's autogroups on (/proc/sys/kernel/sched_autogroup_enabled
# = 1, as here), every setsid'd run is its own scheduling group and the
# groups share the cores equally whatever `nice` says; the group's own nice
# value (/proc/PID/autogroup) is what ranks them (docs/RESULTS.md, "Runs in
# flight across machines"). bg.sh sets both: `nice -n N` for the run's
# threads and N for its group. Prints the run's PID. Output and errors are
# appended to FILE.
#
# e.g. scripts/bg.sh --prio 0 --log /root/autorep-runs/r18/queue.log -- env BIN=... scripts/issue18-queue.sh
main() {
  set -euo pipefail
  local prio=10 log=""
  while [ $# -gt 0 ]; do
    case $1 in
      --prio) prio=$2; shift 2 ;;
      --log) log=$2; shift 2 ;;
      --) shift; break ;;
      *) echo "bg.sh: unknown flag $1 (usage: bg.sh --prio N --log FILE -- COMMAND...)" >&2; exit 2 ;;
    esac
  done
  [ $# -gt 0 ] && [ -n "$log" ] || { echo "bg.sh: need --log FILE and a command after --" >&2; exit 2; }
  [[ $prio =~ ^-?[0-9]+$ ]] && [ "$prio" -ge -20 ] && [ "$prio" -le 19 ] || { echo "bg.sh: --prio must be -20..19" >&2; exit 2; }
  mkdir -p "$(dirname "$log")"
  setsid nohup nice -n "$prio" "$@" >> "$log" 2>&1 < /dev/null &
  local pid=$!
  # The group exists once the run is its own session's leader (setsid has
  # run); before that, the write would rank the caller's group.
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(ps -o sess= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && break
    sleep 0.02
  done
  if [ -w "/proc/$pid/autogroup" ]; then
    echo "$prio" > "/proc/$pid/autogroup" || echo "bg.sh: could not set the autogroup priority of $pid" >&2
  fi
  echo "$pid"
}
main "$@"
