#!/usr/bin/env bash
# e2e.sh: makes the end-to-end tier runnable on a bare machine: etcd (the tests start throwaway etcd
# processes themselves, see test/helpers/etcd.ts) iproute2 (the oracle: ip -json), ping, and openssl
# (certificates for the etcd-over-TLS test). Installs only
# what is missing; starts nothing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
test/services/etcd.sh
scripts/ensure-packages.sh ip:iproute2
scripts/ensure-packages.sh ping:iputils-ping
scripts/ensure-packages.sh openssl:openssl
