#!/usr/bin/env bash
# runstate.sh: carries the state of long background runs (reduce
# checkpoints, agreement chunk results, logs) across a replaced machine.
# The runs live in /root/autorep-runs, which a new machine does not have;
# session 16 began on one and lost every checkpoint (a 7-hour ResNet-18
# search among them). So a session ends with `save`, commits runstate/,
# and the next one, on whatever machine, begins with `restore` and
# restarts the runs with --resume (docs/RESULTS.md, "Runs in flight").
#
#   scripts/runstate.sh save DIR...      copy each run directory's files into runstate/NAME/
#   scripts/runstate.sh restore [ROOT]   copy runstate/NAME/ back to ROOT/NAME (default /root/autorep-runs)
#
# Only files up to MAX_MB (16) MiB each are kept (a ResNet-20 checkpoint
# is 2.7-6.4 MB; a ResNet-18 one is too large for the repository and is
# named as skipped); binaries (bin-*) are never kept: rebuild them from
# the commit their name gives. save replaces runstate/NAME wholly, so a
# finished run's files leave with `git rm -r runstate/NAME`.
main() {
  set -euo pipefail
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  local store=$root/runstate max=$((${MAX_MB:-16} * 1024 * 1024))
  case ${1:-} in
    save)
      shift
      [ $# -gt 0 ] || { echo "runstate: save needs run directories" >&2; exit 2; }
      local d name f size
      for d in "$@"; do
        [ -d "$d" ] || { echo "runstate: no directory $d" >&2; exit 1; }
        name=$(basename "$d")
        rm -rf "${store:?}/$name"
        mkdir -p "$store/$name"
        for f in "$d"/*; do
          [ -f "$f" ] || continue
          case $(basename "$f") in bin-*) continue ;; esac
          size=$(stat -c %s "$f")
          if [ "$size" -gt "$max" ]; then
            echo "runstate: skipped $f ($((size / 1024 / 1024)) MiB > ${MAX_MB:-16} MiB)" >&2
            continue
          fi
          cp -p "$f" "$store/$name/"
        done
        echo "runstate: $name: $(ls "$store/$name" | wc -l) files, $(du -sh "$store/$name" | cut -f1)"
      done
      ;;
    restore)
      local to=${2:-/root/autorep-runs} d
      [ -d "$store" ] || { echo "runstate: nothing saved ($store)"; exit 0; }
      for d in "$store"/*/; do
        [ -d "$d" ] || continue
        mkdir -p "$to/$(basename "$d")"
        # -n: a file the machine still has is newer than the saved copy.
        cp -pn "$d"* "$to/$(basename "$d")/"
        echo "runstate: restored $(basename "$d") to $to"
      done
      ;;
    *)
      echo "usage: scripts/runstate.sh save DIR... | restore [ROOT]" >&2
      exit 2
      ;;
  esac
}
main "$@"
