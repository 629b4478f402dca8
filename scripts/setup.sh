#!/usr/bin/env bash
# Installs the system packages mcrun builds and runs with, on Debian 12 with the Swift
# toolchain already installed, and those its tests under a real systemd need (systemd,
# booted in a private namespace; util-linux's unshare, nsenter, setpriv and runuser).
# Idempotent; needs root (or sudo).
set -euo pipefail
# python3-prometheus-client: the tests parse `mcrun metrics` with its Prometheus parser.
packages=(tmux libsqlite3-dev libsystemd-dev sqlite3 python3 python3-prometheus-client systemd util-linux)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift is not on PATH; install the Swift toolchain first" >&2; exit 1; }
