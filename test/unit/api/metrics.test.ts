import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentMetrics } from '../../../src/api/metrics.js';

function sample(body: string, name: string): string | undefined {
  return body
    .split('\n')
    .find((line) => line.startsWith(`${name} `))
    ?.slice(name.length + 1);
}

test('event loop lag: no minimum before the first sample (NaN, not 2^63 ns), a real one after', async () => {
  const metrics = new AgentMetrics();
  const first = await metrics.exposition();
  assert.equal(sample(first.body, 'netns_agent_nodejs_eventloop_lag_min_seconds'), 'NaN');
  await sleep(100);
  const later = Number(
    sample((await metrics.exposition()).body, 'netns_agent_nodejs_eventloop_lag_min_seconds'),
  );
  assert.ok(later > 0 && later < 60, `a delay in seconds: ${later}`);
});
