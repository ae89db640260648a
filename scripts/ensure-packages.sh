#!/usr/bin/env bash
# ensure-packages.sh CMD:PACKAGE ... : apt-get install PACKAGE when CMD is not on the PATH.
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
if [ ! -f /var/lib/apt/periodic/netns-agent-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq
  mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/netns-agent-updated
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
