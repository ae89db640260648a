/**
 * The seeds' VETH pair through the agent process, once on a real etcd and once on the embedded store:
 * put as keys -> kernel configured (ip -json); restart with everything applied -> zero kernel writes,
 * same ifindexes; delete -> removed from the kernel.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdStore, SqliteStore, type Datastore } from '../../src/datastore/index.js';
import { interfaceStatusKey } from '../../src/model/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  checkSeedPair,
  Cleanup,
  deleteNamespaces,
  eventually,
  ipLink,
  kernelWriteOps,
  seedPair,
  tag,
  type AgentOptions,
} from '../helpers/agent.js';

interface Backend {
  name: string;
  setup(): Promise<{
    agentOptions: Omit<AgentOptions, 'label'>;
    store: () => Datastore;
    close(): Promise<void>;
  }>;
}

let cluster: EtcdCluster | undefined;
const backends: Backend[] = [
  {
    name: 'etcd',
    async setup() {
      cluster ??= await startEtcd(1);
      const endpoints = cluster.endpoints;
      return {
        agentOptions: { etcd: endpoints },
        store: () => new EtcdStore({ endpoints }),
        close: async () => undefined,
      };
    },
  },
  {
    name: 'embedded store',
    async setup() {
      const dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-store-'));
      const file = path.join(dir, 'store.db');
      return {
        agentOptions: { store: file },
        store: () => new SqliteStore({ file }),
        close: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];

after(async () => {
  await cluster?.destroy();
});

for (const backend of backends) {
  describe(`seeds' VETH pair on the ${backend.name}`, { skip: skipUnlessRoot() }, () => {
    const cleanup = new Cleanup();
    let env: Awaited<ReturnType<Backend['setup']>>;
    before(async () => {
      env = await backend.setup();
      cleanup.add(() => env.close());
    });
    after(() => cleanup.run());

    test('put -> configured, restart -> no kernel writes and same ifindexes, delete -> removed', async () => {
      const label = `e2el${tag()}`;
      const pair = seedPair(label, 'e2l');
      cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
      const store = env.store();
      cleanup.add(() => store.close());

      let agent = await AgentProcess.start({ label, ...env.agentOptions, statusIntervalMs: 300 });
      cleanup.add(() => agent.stop());

      // put as keys, straight into the datastore (as the seeds' users did)
      await store.put(pair.key1, JSON.stringify(pair.veth1));
      await store.put(pair.key2, JSON.stringify(pair.veth2));
      await agent.until([pair.key1, pair.key2], 'configured');
      const before = eventually(() => checkSeedPair(pair), 5000);
      const { ifindex1, ifindex2 } = await before;
      const alias = ipLink(pair.ns1, 'veth1Name')?.ifalias;
      assert.equal(alias, `netns-agent:${label}:veth1`);
      const ping = spawnSync('ip', ['netns', 'exec', pair.ns1, 'ping', '-c1', '-W2', '192.168.22.2'], {
        encoding: 'utf8',
      });
      assert.equal(ping.status, 0, `ping from ${pair.ns1} to veth2: ${ping.stdout}${ping.stderr}`);
      await eventually(async () =>
        assert.equal((await agent.stateOf(pair.key1))?.interface?.ifindex, ifindex1),
      );
      // State publishing: the kernel's view of each interface, written to the datastore.
      const statusKey = interfaceStatusKey(label, 'veth1');
      const published = await eventually(async () => {
        const kv = await store.get(statusKey);
        assert.ok(kv, `${statusKey} in the datastore`);
        const state = JSON.parse(kv.value) as {
          hostIfName: string;
          ifindex: number;
          operState: string;
          mtu: number;
          mac?: string;
          stats?: { rxPackets: number; txPackets: number };
        };
        // A state published before the kernel's linkwatch set the pair up says so: wait for the next.
        assert.equal(state.operState, 'up', JSON.stringify(state));
        return state;
      }, 5000);
      assert.equal(published.ifindex, ifindex1);
      assert.equal(published.hostIfName, 'veth1Name');
      assert.equal(published.mtu, pair.veth1.mtu);
      assert.equal(published.mac, pair.veth1.phys_address);
      // the ping went through veth1: its counters move, and the datastore follows
      await eventually(async () => {
        const now = JSON.parse((await store.get(statusKey))!.value) as typeof published;
        assert.ok((now.stats?.txPackets ?? 0) > 0, JSON.stringify(now));
      }, 5000);

      // restart: everything is applied, the resync writes nothing
      await agent.stop();
      assert.equal(agent.child.exitCode, 0, `agent exit code on SIGTERM: ${agent.logText()}`);
      assert.deepEqual(checkSeedPair(pair), { ifindex1, ifindex2 }, 'SIGTERM left the kernel configured');
      agent = await AgentProcess.start({ label, ...env.agentOptions, statusIntervalMs: 300 });
      await agent.until([pair.key1, pair.key2], 'configured');
      const history = await agent.history();
      assert.ok(history.length > 0, 'a resync transaction is recorded');
      const restartWrites = kernelWriteOps(history); // asserted at the end, so the rest runs too
      assert.deepEqual(checkSeedPair(pair), { ifindex1, ifindex2 }, 'same ifindexes after restart');

      // delete -> removed from the kernel (both ends: a VETH pair needs both sides)
      await store.delete(pair.key1);
      await eventually(() => {
        assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined);
        assert.equal(ipLink(pair.ns2, 'veth2Name'), undefined);
      });
      await eventually(async () =>
        assert.equal((await agent.stateOf(pair.key1))?.state ?? 'removed', 'removed'),
      );
      assert.equal((await agent.stateOf(pair.key2))?.state, 'pending', 'veth2 waits for its peer');
      // its published state goes too
      await eventually(async () => assert.equal(await store.get(statusKey), undefined), 5000);
      await store.delete(pair.key2);
      await eventually(async () =>
        assert.ok(!(await agent.status()).some((s) => s.key === pair.key2 && s.state !== 'removed')),
      );

      assert.deepEqual(restartWrites, [], 'kernel writes after restart');
    });
  });
}
