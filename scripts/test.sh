#!/usr/bin/env bash
# test.sh TIER...: runs the compiled tests of each tier (dist/test/<tier>/**/*.test.js) with node's
# test runner. Tiers: unit (pure, no root), kernel (root, real namespaces), and the service tiers,
# which start what they need (see test/services/).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# Each tier's output is also kept, so that the failures can be repeated at the very end: CI shows
# only the tail of a long run.
results=dist/test-results
mkdir -p "$results"
failed=()
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
  if ! node --test --test-concurrency=$concurrency --test-reporter=spec "${files[@]}" 2>&1 |
    tee "$results/$tier.log"; then
    status=1
    failed+=("$tier")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "=== failures, again (tiers: ${failed[*]}; whole output in $results/)"
  for tier in "${failed[@]}"; do
    echo "--- tier $tier"
    sed -n '/failing tests:/,$p' "$results/$tier.log" | grep -vE '^\s+at ' | head -c 12000
  done
fi
exit $status
