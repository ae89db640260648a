/** netnsctl's counts in its sentences: "1 item", never "1 items" (src/cli/netnsctl/words.ts and its users). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stoppedMidway } from '../../../src/cli/netnsctl/stopped-midway.js';
import { fakeAgent, runNetnsctl, type FakeAgent } from './run-netnsctl.js';

const KEY = '/vnf-agent/wtc1/linux/config/v1/interface/wtcd1';

describe('netnsctl counts', () => {
  let dir: string;
  let agent: FakeAgent;
  let file: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wtc-counts-'));
    file = path.join(dir, 'one.yaml');
    writeFileSync(file, 'kind: interface\nname: wtcd1\ntype: DUMMY\n');
    // An agent that stores the item and then shows it pending for good (failed, no retry planned).
    agent = await fakeAgent(({ method, url }) => {
      if (method === 'POST' && url === '/v1/plan') return { json: { summary: { entries: [] } } };
      if (method === 'PUT') return { json: { key: KEY, revision: 7 } };
      if (method === 'POST' && url === '/v1/config') return { json: { stored: 1, revision: 7 } };
      if (url === '/v1/status?summary') return { json: { datastore: { state: 'in-sync', revision: 7 } } };
      if (url === '/v1/status') return { json: [{ key: KEY, state: 'failed', error: 'EOPNOTSUPP' }] };
      return { status: 404, json: { error: 'no such endpoint' } };
    });
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('apply of one item: "1 item", in the summary and in what --wait says', async () => {
    const run = await runNetnsctl([
      '--server',
      agent.server,
      '--label',
      'wtc1',
      'apply',
      '-f',
      file,
      '--wait',
    ]);
    assert.match(run.stdout, /^stored 1 of 1 item \(0 invalid, 0 failed to store\)/m);
    assert.match(run.stdout, /^configured 0 of 1 item after/m);
    assert.equal(run.error?.exitCode, 6);
    assert.match(run.error?.message ?? '', /^1 item not configured: /);
  });

  test('del of one key from a file: "deleted 1 of 1 key"', async () => {
    const store = path.join(dir, 'store.db');
    const base = ['--store', store, '--label', 'wtc1'];
    assert.equal((await runNetnsctl([...base, 'apply', '-f', file])).error, undefined);
    const run = await runNetnsctl([...base, 'del', '-f', file]);
    assert.equal(run.error, undefined);
    assert.equal(run.stdout, 'deleted 1 of 1 key');
  });

  test('stopped midway: "of 1 item"', () => {
    assert.match(
      stoppedMidway({ doing: 'storing', done: 'stored', noun: 'item' }, 0, 1, [KEY], []),
      /^netnsctl: stopped after storing 0 of 1 item; not stored \(1\)/,
    );
    assert.match(
      stoppedMidway({ doing: 'deleting', done: 'deleted', noun: 'key' }, 1, 3, [], []),
      /^netnsctl: stopped after deleting 1 of 3 keys\n/,
    );
  });
});
