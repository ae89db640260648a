#!/usr/bin/env node
// netns-agent's program, started by bin/netns-agent with node's flags (compiled code lives in
// dist/; `make build` makes it). The V8 flags keep the daemon's memory close to what it holds: with the defaults, garbage from a
// W1-sized configuration piles up to a peak of ~180 MiB RSS; with these, ~135-143 MiB, for a little
// more time in the garbage collector (README, "Benchmarks"). One V8 helper thread instead of four:
// the agent is one event loop, and on a small host the helpers' optimising compiler and concurrent
// marking took the CPU it needed (W1 apply ~20% faster on two cores; README, "The daemon"). A
// larger interrupt budget: that helper spent ~1 s of a W1 apply optimising functions, ~0.4 s with it.
// The program runs from its bundle with a V8 code cache (dist/src/cli/run-bundle.js says why).
import('../dist/src/cli/run-bundle.js')
  .then(({ runBundle }) => runBundle('netns-agent', () => import('../dist/src/cli/agent-main.js')))
  .catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
