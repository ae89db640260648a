/**
 * netnsctl apply -f and del -f against an agent from before POST /v1/config (it answers 404): a PUT
 * or DELETE per key, as those agents took them, with the same summary.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fakeAgent, runNetnsctl, type FakeAgent } from './run-netnsctl.js';

const PREFIX = '/vnf-agent/wto1/linux/config/v1/interface/';

describe('netnsctl apply and del with an agent that has no POST /v1/config', () => {
  let dir: string;
  let file: string;
  let agent: FakeAgent;
  const stored = new Set<string>();
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wto-old-'));
    file = path.join(dir, 'items.yaml');
    writeFileSync(
      file,
      ['wto1', 'wto2', 'wto3'].map((name) => `kind: interface\nname: ${name}\ntype: DUMMY`).join('\n---\n'),
    );
    agent = await fakeAgent(({ method, url }) => {
      if (method === 'POST' && url === '/v1/plan') return { json: { summary: { entries: [] } } };
      const key = decodeURIComponent(url.slice('/v1/config'.length));
      if (method === 'PUT' && url.startsWith('/v1/config/')) {
        stored.add(key);
        return { json: { key, revision: stored.size } };
      }
      if (method === 'DELETE' && url.startsWith('/v1/config/')) {
        const had = stored.delete(key);
        return had
          ? { json: { key, deleted: true } }
          : { status: 404, json: { error: `no value under ${key}` } };
      }
      return { status: 404, json: { message: `Route ${method}:${url} not found`, error: 'Not Found' } };
    });
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('apply -f: stored with a PUT each; del -f: deleted with a DELETE each, those with no value said', async () => {
    const apply = await runNetnsctl(['--server', agent.server, '--label', 'wto1', 'apply', '-f', file]);
    assert.equal(apply.error, undefined, apply.stderr);
    assert.match(apply.stdout, /stored 3 of 3 items \(0 invalid, 0 failed to store\)/);
    assert.deepEqual(
      [...stored].sort(),
      ['wto1', 'wto2', 'wto3'].map((n) => `${PREFIX}${n}`),
    );

    stored.delete(`${PREFIX}wto2`);
    const del = await runNetnsctl(['--server', agent.server, '--label', 'wto1', 'del', '-f', file]);
    assert.equal(del.error?.exitCode, 2, del.stderr);
    assert.match(del.stdout, /deleted 2 of 3 keys/);
    assert.match(del.error?.message ?? '', new RegExp(`no value under 1 of the 3 keys: ${PREFIX}wto2`));
    assert.equal(stored.size, 0);
    const posts = agent.requests.filter((r) => r.method === 'POST' && r.url === '/v1/config');
    assert.equal(posts.length, 2, 'asked once for each command, then a request per key');
  });
});
