#!/usr/bin/env bash
# fault.sh: makes the reliability tier runnable on a bare machine. It needs everything the other
# service tiers need: dockerd and the busybox test image (docker.sh), an etcd binary (the tests start
# their own throwaway single members and 3-member clusters, see test/helpers/etcd.ts), iproute2 as the
# oracle and ping. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
test/services/docker.sh
test/services/etcd.sh
scripts/ensure-packages.sh ip:iproute2 ping:iputils-ping
