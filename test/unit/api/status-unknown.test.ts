/**
 * GET /v1/status before the agent has taken in its configuration: 503 with retry-after, saying
 * why, not an empty list (which would say "no items") nor a 404 for a key it may well have.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentService, DatastoreState, ItemStatus } from '../../../src/api/service.js';

function fakeService(known: { read: boolean; states: boolean }): AgentService {
  const datastore = (): DatastoreState => ({
    state: known.read ? 'in-sync' : 'lost',
    since: '2026-12-03T07:00:00.000Z',
    ...(known.read ? { configurationReadAt: '2026-12-03T07:00:01.000Z' } : { error: 'connection refused' }),
  });
  return {
    datastore,
    statesKnown: () => known.states,
    status: (): ItemStatus[] => [],
    statusOf: (): ItemStatus | undefined => undefined,
    statusCounts: () => ({}),
    subscribe: () => () => undefined,
    label: 'a',
    plan: async () => ({ actions: [], invalid: [] }),
  } as unknown as AgentService;
}

test('GET /v1/status, /v1/status/<key> and POST /v1/plan: 503 until the states are known, then the list and 404', async () => {
  const known = { read: false, states: false };
  const app = buildApi(fakeService(known));
  try {
    const key = '/v1/status/vnf-agent/a/linux/config/v1/interface/x';
    let list = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(list.statusCode, 503);
    assert.equal(list.headers['retry-after'], '1');
    assert.match(
      list.json<{ error: string }>().error,
      /has not read its configuration yet \(datastore lost since .*connection refused\)/,
    );
    assert.equal((await app.inject({ method: 'GET', url: key })).statusCode, 503);
    // A plan against nothing read yet would call every item new.
    const plan = { method: 'POST' as const, url: '/v1/plan', payload: JSON.stringify({ deletes: [] }) };
    assert.equal((await app.inject(plan)).statusCode, 503);
    // The summary answers all along: pollers read the datastore's state from it.
    assert.equal((await app.inject({ method: 'GET', url: '/v1/status?summary' })).statusCode, 200);

    known.read = true;
    list = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(list.statusCode, 503);
    assert.match(list.json<{ error: string }>().error, /taking in its configuration/);

    known.states = true;
    list = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json(), []);
    assert.equal((await app.inject({ method: 'GET', url: key })).statusCode, 404);
    assert.equal((await app.inject(plan)).statusCode, 200);
  } finally {
    await app.close();
  }
});
