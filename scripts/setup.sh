#!/usr/bin/env bash
# One-time machine set-up for runbook's lab and tests (Debian 12, as root): system packages, then npm ci
# (which also compiles the CLI to dist/). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs=(openssh-server openssh-client iproute2 podman netavark aardvark-dns iptables curl uidmap python3 procps util-linux sudo socat strace cron ufw git unzip zstd)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# the Debian package starts no sshd here; the lab starts its own per namespace
npm ci --no-audit --no-fund
