#!/usr/bin/env bash
# etcd.sh: makes the etcd tier runnable on a bare machine. Installs the Debian package etcd-server
# when no `etcd` binary is on the PATH (running apt-get update first when the package lists are
# empty or stale). The tests start their own throwaway etcd processes (test/helpers/etcd.ts), so
# nothing is started here, and the package's own system service is stopped if the package
# installation started it. Idempotent.
set -euo pipefail

log() { echo "etcd.sh: $*" >&2; }

command -v etcd >/dev/null 2>&1 && exit 0

log "installing etcd-server"
export DEBIAN_FRONTEND=noninteractive
# Keep the package's postinst from starting a system etcd on the default ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
if ! apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends etcd-server >/dev/null
fi
command -v etcd >/dev/null 2>&1 || { log "etcd-server installed but no etcd binary found"; exit 1; }
