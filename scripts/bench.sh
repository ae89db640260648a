#!/usr/bin/env bash
# bench.sh: runs every benchmark (root needed for the kernel ones), prints their tables, and ends
# with one `RESULT {json}` line merging the RESULT lines of all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
benches=(engine w1-raw w1-engine w1-agent ms-attach)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The W1 benchmarks that run the agent's layers in their own process get the agent's V8 flags (the
# NODE_FLAGS line of bin/netns-agent), as those that start bin/netns-agent do; the engine's own
# benchmark (no kernel, an algorithmic figure) keeps node's defaults, as in earlier sessions.
mapfile -t agent_flags < <(sed -n "s/^NODE_FLAGS='\(.*\)'$/\1/p" bin/netns-agent | grep -o -- '--[^ ]*')
[ "${#agent_flags[@]}" -gt 0 ] || { echo "bench: no NODE_FLAGS line in bin/netns-agent" >&2; exit 1; }
in_process=" w1-raw w1-engine "
for b in "${benches[@]}"; do
  [ -f "dist/bench/$b.js" ] || continue
  echo "=== bench $b"
  flags=()
  [[ $in_process == *" $b "* ]] && flags=("${agent_flags[@]}")
  node --expose-gc "${flags[@]}" "dist/bench/$b.js" | tee -a "$out"
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("RESULT "));
const merged = Object.assign({}, ...lines.map(l => JSON.parse(l.slice(7))));
console.log("RESULT " + JSON.stringify(merged));
' "$out"
