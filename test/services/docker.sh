#!/usr/bin/env bash
# docker.sh: makes the docker tier runnable on a bare machine. Installs docker.io and
# busybox-static when missing, starts dockerd when nothing answers on its socket, and builds the
# local test image from busybox-static (there is no registry to pull from). Idempotent: when
# everything is already there it only checks and returns.
set -euo pipefail

IMAGE=${NETNS_AGENT_TEST_IMAGE:-netns-agent-test/busybox:latest}
STATE_DIR=/tmp/netns-agent-dockerd
PID_FILE=$STATE_DIR/dockerd.pid
LOG_FILE=$STATE_DIR/dockerd.log

log() { echo "docker.sh: $*" >&2; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

docker_answers() { timeout 5 docker info >/dev/null 2>&1; }

start_dockerd() {
  docker_answers && return 0
  mkdir -p "$STATE_DIR"
  # A stale pid file from a dockerd that died would make the new one refuse to start.
  if [ -f "$PID_FILE" ] && ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then rm -f "$PID_FILE"; fi
  [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null && rm -f /var/run/docker.pid
  local driver_args=()
  # overlay2 does not work when / is itself an overlay (a container); vfs always does, and the
  # test image is tiny.
  if [ "$(stat -f -c %T /var/lib 2>/dev/null)" = overlayfs ]; then driver_args=(--storage-driver=vfs); fi
  log "starting dockerd (log: $LOG_FILE)"
  setsid dockerd --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$PID_FILE" "${driver_args[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker_answers && return 0
    sleep 0.5
  done
  log "dockerd did not answer within 60 s; last log lines:"
  tail -n 20 "$LOG_FILE" >&2
  return 1
}

build_image() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  log "building $IMAGE from busybox-static"
  local root
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/etc" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for tool in sh sleep ip ping cat ls ifconfig route true false echo ps kill; do
    ln -s busybox "$root/bin/$tool"
  done
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
}

# Containers left by a test run that crashed (names carry the test process's pid).
remove_stale_containers() {
  local name pid
  docker ps -a --format '{{.Names}}' --filter 'name=^/netns-agent-test-' 2>/dev/null | while read -r name; do
    pid=${name#netns-agent-test-}
    pid=${pid%%-*}
    if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
      docker rm -f "$name" >/dev/null 2>&1 || true
    fi
  done
}

install_packages
start_dockerd
build_image
remove_stale_containers
