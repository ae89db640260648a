/** netnsctl status (src/cli/netnsctl/states-known.ts), run in this process against a fake agent. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeAgent, runNetnsctl, type FakeAgent } from './run-netnsctl.js';

const KEY = '/vnf-agent/wts1/linux/config/v1/interface/wtsd1';
const DATASTORE = {
  state: 'in-sync',
  since: '2026-12-03T07:00:00.000Z',
  configurationReadAt: '2026-12-03T07:00:01.000Z',
};

describe('netnsctl status', () => {
  let agent: FakeAgent;
  /** How many answers of /v1/status are still 503 "taking in its configuration". */
  let takingIn = 0;
  before(async () => {
    agent = await fakeAgent(({ url }) => {
      if (url === '/v1/about') return { json: { label: 'wts1' } };
      if (url === '/v1/status?summary')
        return { json: { total: 1, counts: { configured: 1 }, datastore: DATASTORE } };
      if (url === '/v1/status' && takingIn > 0) {
        takingIn--;
        return {
          status: 503,
          json: { error: 'the agent is taking in its configuration', datastore: DATASTORE },
        };
      }
      if (url === '/v1/status') return { json: [{ key: KEY, state: 'configured' }] };
      return { status: 404, json: { error: 'no such endpoint' } };
    });
  });
  after(() => agent.close());

  const listsAsked = (): number => agent.requests.filter((r) => r.url === '/v1/status').length;

  test('the list is asked once (it was asked again for the answer in hand)', async () => {
    const asked = listsAsked();
    const run = await runNetnsctl(['--server', agent.server, '--label', 'wts1', '-o', 'json', 'status']);
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(JSON.parse(run.stdout), [{ key: KEY, state: 'configured' }]);
    assert.equal(listsAsked() - asked, 1);
  });

  test('an agent taking in its configuration is waited for, then its list shown', async () => {
    const asked = listsAsked();
    takingIn = 2;
    const run = await runNetnsctl(['--server', agent.server, '--label', 'wts1', '-o', 'json', 'status']);
    assert.equal(run.error, undefined, run.error?.message);
    assert.deepEqual(JSON.parse(run.stdout), [{ key: KEY, state: 'configured' }]);
    assert.equal(listsAsked() - asked, 3);
  });
});
