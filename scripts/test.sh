#!/usr/bin/env bash
# test.sh TIER...: runs the compiled tests of each tier (dist/test/<tier>/**/*.test.js) with node's
# test runner. Tiers: unit (pure, no root), kernel (root, real namespaces), and the service tiers,
# which start what they need (see test/services/).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for tier in "$@"; do
  dir=dist/test/$tier
  [ -d "$dir" ] || { echo "tier $tier: no tests"; continue; }
  mapfile -t files < <(find "$dir" -name '*.test.js' | sort)
  [ ${#files[@]} -gt 0 ] || { echo "tier $tier: no tests"; continue; }
  if [ "$tier" != unit ] && [ "$(id -u)" != 0 ]; then
    echo "tier $tier needs root; skipped" >&2; continue
  fi
  [ -x "test/services/$tier.sh" ] && "test/services/$tier.sh"
  concurrency=1
  [ "$tier" = unit ] && concurrency=2
  echo "=== tier $tier (${#files[@]} files)"
  node --test --test-concurrency=$concurrency --test-reporter=spec "${files[@]}" || status=1
done
exit $status
