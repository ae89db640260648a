/**
 * netnsctl --etcd: the configuration commands (put, get, list, del, apply) read and write etcd
 * itself, with the checks the agent's API makes (an invalid value is refused and not stored); an
 * agent on that etcd sees what was written. An etcd that cannot be reached exits 3.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdStore } from '../../src/datastore/index.js';
import { freePort, startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, Cleanup, configKey, eventually, netnsctl, tag } from '../helpers/agent.js';

describe('netnsctl --etcd', { skip: skipUnlessRoot() }, () => {
  let cluster: EtcdCluster;
  let reader: EtcdStore;
  const cleanup = new Cleanup();
  const label = `ctle${tag()}`;
  let base: string[];
  // A microservice namespace: the agent (without Docker) keeps the item pending, the kernel untouched.
  const value = (name: string, mtu = 1500) =>
    JSON.stringify({
      name,
      type: 'DUMMY',
      mtu,
      namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' },
    });

  before(async () => {
    cluster = await startEtcd(1);
    cleanup.add(() => cluster.destroy());
    reader = new EtcdStore({ endpoints: cluster.endpoints });
    cleanup.add(() => reader.close());
    base = ['--etcd', cluster.endpoints.join(','), '--label', label];
  });
  after(() => cleanup.run());

  test('put, get, list, del on etcd; the agent sees the value', async () => {
    const agent = await AgentProcess.start({ label, etcd: cluster.endpoints });
    try {
      const key = configKey(label, 'interface', 'd1');
      const put = await netnsctl([...base, 'put', 'interface/d1', '-'], value('d1'));
      assert.equal(put.code, 0, put.stderr);
      assert.equal(put.stdout.trim(), `stored ${key}`);
      assert.equal((await reader.get(key))?.value, value('d1'));
      await eventually(async () => assert.equal((await agent.stateOf(key))?.state, 'pending'));

      const get = await netnsctl([...base, '-o', 'json', 'get', 'interface/d1']);
      assert.equal(get.code, 0, get.stderr);
      assert.equal((JSON.parse(get.stdout) as { mtu: number }).mtu, 1500);
      const list = await netnsctl([...base, 'list']);
      assert.deepEqual(list.stdout.trim().split('\n'), [key]);

      const del = await netnsctl([...base, 'del', 'interface/d1']);
      assert.equal(del.code, 0, del.stderr);
      assert.equal(await reader.get(key), undefined);
      const again = await netnsctl([...base, 'del', 'interface/d1']);
      assert.equal(again.code, 2, 'nothing to delete');
      await eventually(async () => assert.equal((await agent.stateOf(key))?.state, 'removed'));
    } finally {
      await agent.stop();
    }
  });

  test('an invalid value is refused with its field and not stored (exit 5)', async () => {
    const key = configKey(label, 'interface', 'd2');
    const put = await netnsctl([...base, 'put', 'interface/d2', '-'], value('d2', 7));
    assert.equal(put.code, 5);
    assert.match(put.stderr, /invalid value for .*d2[\s\S]*mtu/);
    assert.equal(await reader.get(key), undefined);
  });

  test('apply -f: the valid items are stored, the invalid ones listed (exit 5)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'netnsctl-etcd-'));
    try {
      const file = path.join(dir, 'items.json');
      writeFileSync(
        file,
        JSON.stringify([
          { kind: 'interface', name: 'd3', value: JSON.parse(value('d3')) as unknown },
          { kind: 'interface', name: 'd4', value: JSON.parse(value('d4', 7)) as unknown },
        ]),
      );
      const apply = await netnsctl([...base, 'apply', '-f', file]);
      assert.equal(apply.code, 5, apply.stderr);
      assert.match(apply.stdout, /stored 1 of 2/);
      assert.match(apply.stderr, /d4/);
      assert.ok(await reader.get(configKey(label, 'interface', 'd3')));
      assert.equal(await reader.get(configKey(label, 'interface', 'd4')), undefined);
      await reader.delete(configKey(label, 'interface', 'd3'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an etcd nobody answers on: exit 3, naming it', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const put = await netnsctl(
      ['--etcd', nowhere, '--label', label, 'put', 'interface/d5', '-'],
      value('d5'),
    );
    assert.equal(put.code, 3, put.stderr);
    assert.match(put.stderr, new RegExp(`etcd at ${nowhere}`));
  });
});
