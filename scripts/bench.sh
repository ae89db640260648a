#!/usr/bin/env bash
# bench.sh: runs every benchmark (root needed for the kernel ones), prints their tables, and ends
# with one `RESULT {json}` line merging the RESULT lines of all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
benches=(engine w1-raw w1-engine w1-agent ms-attach)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for b in "${benches[@]}"; do
  [ -f "dist/bench/$b.js" ] || continue
  echo "=== bench $b"
  node --expose-gc "dist/bench/$b.js" | tee -a "$out"
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("RESULT "));
const merged = Object.assign({}, ...lines.map(l => JSON.parse(l.slice(7))));
console.log("RESULT " + JSON.stringify(merged));
' "$out"
