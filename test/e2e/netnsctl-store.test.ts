/**
 * netnsctl --store FILE: the configuration commands work on the agent's embedded store file while
 * the agent is down (the daemon and netnsctl see one store); what was put is applied when the agent
 * starts. Invalid values are refused and not stored; `get KEY` shows that key only.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, configKey, netnsctl, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netnsctl-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A microservice namespace: the agent (without Docker) keeps the item pending, the kernel untouched.
const value = (name: string, mtu = 1500): string =>
  JSON.stringify({
    name,
    type: 'DUMMY',
    mtu,
    namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' },
  });

describe('netnsctl --store', { skip: skipUnlessRoot() }, () => {
  test('put while the agent is down; the agent applies it when it starts', async () => {
    const label = `ctls${tag()}`;
    const store = path.join(dir, 'store.db');
    const base = ['--store', store, '--label', label];
    for (const name of ['d1', 'd10']) {
      const put = await netnsctl([...base, 'put', `interface/${name}`, '-'], value(name));
      assert.equal(put.code, 0, put.stderr);
    }
    const invalid = await netnsctl([...base, 'put', 'interface/d2', '-'], value('d2', 7));
    assert.equal(invalid.code, 5);
    assert.match(invalid.stderr, /mtu/);

    const list = await netnsctl([...base, 'list']);
    assert.deepEqual(list.stdout.trim().split('\n'), [
      configKey(label, 'interface', 'd1'),
      configKey(label, 'interface', 'd10'),
    ]);
    const del = await netnsctl([...base, '-o', 'json', 'del', 'interface/d1']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(JSON.parse(del.stdout), { key: configKey(label, 'interface', 'd1'), deleted: true });
    const again = await netnsctl([...base, '-o', 'yaml', 'put', 'interface/d1', '-'], value('d1'));
    assert.equal(again.stdout.trim(), `key: ${configKey(label, 'interface', 'd1')}\nstored: true`);
    assert.equal((await netnsctl([...base, 'del', 'interface/d1'])).code, 0);
    // A key names one value: d1 is gone, d10 (under the same prefix) is not shown for it.
    const get = await netnsctl([...base, 'get', 'interface/d1']);
    assert.equal(get.code, 2, `${get.stdout}${get.stderr}`);
    assert.equal(get.stdout, '');

    const agent = await AgentProcess.start({ label, store });
    try {
      assert.equal((await agent.stateOf(configKey(label, 'interface', 'd10')))?.state, 'pending');
      assert.equal(await agent.stateOf(configKey(label, 'interface', 'd2')), undefined, 'never stored');
      // --wait with a value put into another store than the agent's: its revisions say nothing of
      // the agent's; said at once, not "configured" from the agent's older state.
      const other = await netnsctl(
        [
          '--store',
          path.join(dir, 'other.db'),
          '--label',
          label,
          '--server',
          agent.server,
          'put',
          '--wait',
          'interface/d10',
          '-',
        ],
        value('d10', 1400),
      );
      assert.equal(other.code, 6, `${other.stdout}${other.stderr}`);
      assert.match(other.stderr, /another store than the agent's/);
    } finally {
      await agent.stop();
    }
  });

  test('a read of a store file that does not exist: exit 2, and no file is made', async () => {
    const missing = path.join(dir, 'typo.db');
    const list = await netnsctl(['--store', missing, 'list']);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /no store at .*typo\.db/);
    assert.equal(existsSync(missing), false);
  });

  test('--etcd and --store together: a usage error', async () => {
    const run = await netnsctl(['--store', path.join(dir, 'x.db'), '--etcd', 'http://127.0.0.1:1', 'list']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--etcd and --store/);
  });
});
