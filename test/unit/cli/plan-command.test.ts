/** netnsctl plan -f (src/cli/netnsctl/file-commands.ts), run in this process against a fake agent. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fakeAgent, runNetnsctl, type FakeAgent } from './run-netnsctl.js';

describe('netnsctl plan', () => {
  let dir: string;
  let file: string;
  let agent: FakeAgent;
  /** What the fake agent's dry run answers. */
  let entries: { key: string; change: string; why: string }[] = [];
  /** How many dry runs are still answered 503 "taking in its configuration". */
  let takingIn = 0;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wtc-plan-'));
    file = path.join(dir, 'one.yaml');
    writeFileSync(file, 'kind: interface\nname: wtcd1\ntype: DUMMY\n');
    agent = await fakeAgent(({ method, url }) => {
      if (method !== 'POST' || url !== '/v1/plan')
        return { status: 404, json: { error: 'no such endpoint' } };
      if (takingIn > 0) {
        takingIn--;
        const datastore = { state: 'in-sync', since: 'x', configurationReadAt: 'y' };
        return { status: 503, json: { error: 'the agent is taking in its configuration', datastore } };
      }
      return { json: { actions: [], invalid: [], summary: { entries } } };
    });
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('-o table with nothing to change says so (it printed the header line alone); json stays data', async () => {
    entries = [];
    const base = ['--server', agent.server, '--label', 'wtc1'];
    const asTable = await runNetnsctl([...base, '-o', 'table', 'plan', '-f', file]);
    assert.equal(asTable.error, undefined);
    assert.equal(asTable.stdout, 'nothing would change');
    const asJson = await runNetnsctl([...base, '-o', 'json', 'plan', '-f', file]);
    assert.deepEqual(JSON.parse(asJson.stdout), {
      invalid: [],
      plan: { actions: [], summary: { entries: [] } },
    });
    // Something to change: the table as before.
    entries = [{ key: '/vnf-agent/wtc1/linux/config/v1/interface/wtcd1', change: 'create', why: 'new' }];
    const changed = await runNetnsctl([...base, '-o', 'table', 'plan', '-f', file]);
    assert.match(changed.stdout, /^KEY +CHANGE +WHY\n.*interface\/wtcd1 +create +new$/);
  });

  test('an agent taking in its configuration (503) is waited for, then its plan shown', async () => {
    entries = [];
    takingIn = 2;
    const run = await runNetnsctl([
      '--server',
      agent.server,
      '--label',
      'wtc1',
      '-o',
      'table',
      'plan',
      '-f',
      file,
    ]);
    assert.equal(run.error, undefined, run.error?.message);
    assert.equal(run.stdout, 'nothing would change');
    assert.equal(takingIn, 0);
  });
});
