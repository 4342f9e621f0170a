#!/usr/bin/env bash
# Installs the system packages autorep builds against (Debian/Ubuntu).
# Safe to run again: it skips packages that are already present.
set -euo pipefail
# time: GNU time (/usr/bin/time), with which scripts/serve-bench.sh reads the
# client process's peak RSS and CPU time.
pkgs=(libdnnl-dev libopenblas-dev pkg-config gcc time)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
command -v go >/dev/null || { echo "install-deps: Go 1.26 or newer is required (https://go.dev/dl)"; exit 1; }
v=$(go env GOVERSION | sed 's/^go//')
case "$v" in
  1.2[6-9]*|1.[3-9]*|[2-9].*) ;;
  *) echo "install-deps: Go $v found, 1.26 or newer is required (GOEXPERIMENT=simd)"; exit 1 ;;
esac
