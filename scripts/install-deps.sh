#!/usr/bin/env bash
# Installs the system packages autorep builds against (Debian/Ubuntu).
# Safe to run again: it skips packages that are already present.
set -euo pipefail
pkgs=(libdnnl-dev libopenblas-dev pkg-config gcc)
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
command -v go >/dev/null || { echo "install-deps: Go 1.26 is required (https://go.dev/dl)"; exit 1; }
