#!/usr/bin/env bash
# kernel.sh: makes the kernel tier runnable on a bare machine: iproute2 (ip) and ping (iputils-ping)
# are installed when missing. Idempotent: when everything is there it only checks and returns.
set -euo pipefail

log() { echo "kernel.sh: $*" >&2; }

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
