/**
 * State publishing on change: with counters published only every minute, a change of an
 * interface's state (its peer set down: oper state lower-layer-down; another MTU; another host name
 * whose link is already right, so that only the item changes; the item removed)
 * still reaches the datastore within a couple of seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import { configKey, interfaceStatusKey } from '../../src/model/index.js';
import { eventually, ip, ipTry, skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, netnsctl, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'status-changes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('interface state published on change', { skip: skipUnlessRoot() }, () => {
  test('a link event reaches the status key long before the next round of counters', async () => {
    const label = `stc${tag()}`;
    const ns = `stcn${tag()}`;
    const file = path.join(dir, `${label}.db`);
    const store = new SqliteStore({ file });
    const statusKey = interfaceStatusKey(label, 'ex');
    type Published = { operState: string; mtu: number; hostIfName: string };
    const published = async (): Promise<Published | undefined> => {
      const kv = await store.get(statusKey);
      return kv ? (JSON.parse(kv.value) as Published) : undefined;
    };
    const item = (host: string): string =>
      JSON.stringify({
        name: 'ex',
        type: 'EXISTING',
        enabled: true,
        host_if_name: host,
        namespace: { type: 'NAMED_NS', name: ns },
      });
    let agent: AgentProcess | undefined;
    try {
      ip(null, ['netns', 'add', ns]);
      ip(ns, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      ip(ns, ['link', 'set', 'ex1', 'up']);
      // ey0: already as the item wants it, so taking it makes no event of its own.
      ip(ns, ['link', 'add', 'ey0', 'type', 'veth', 'peer', 'name', 'ey1']);
      ip(ns, ['link', 'set', 'ey0', 'up']);
      ip(ns, ['link', 'set', 'ey1', 'up']);
      await store.put(configKey(label, 'interface', 'ex'), item('ex0'));
      agent = await AgentProcess.start({ label, store: file, statusIntervalMs: 60_000 });
      await eventually(async () => assert.equal((await published())?.operState, 'up'), 5000);

      const changedAt = Date.now();
      ip(ns, ['link', 'set', 'ex1', 'down']);
      await eventually(async () => assert.equal((await published())?.operState, 'lowerlayerdown'), 5000);
      ip(ns, ['link', 'set', 'ex0', 'mtu', '1400']);
      await eventually(async () => assert.equal((await published())?.mtu, 1400), 5000);
      // Another host name, a link already right: the state follows the item to it.
      await store.put(configKey(label, 'interface', 'ex'), item('ey0'));
      await eventually(async () => assert.equal((await published())?.hostIfName, 'ey0'), 5000);
      // The item removed: its state goes as soon.
      await store.delete(configKey(label, 'interface', 'ex'));
      await eventually(async () => assert.equal(await published(), undefined), 5000);
      assert.ok(Date.now() - changedAt < 15_000, 'well before the minute of the counters');

      // Removed while the agent was down: its state goes soon after the start, not at the first
      // round of counters.
      await store.put(configKey(label, 'interface', 'ex'), item('ex0'));
      await eventually(async () => assert.equal((await published())?.hostIfName, 'ex0'), 5000);
      await agent.stop();
      await store.delete(configKey(label, 'interface', 'ex'));
      const restartedAt = Date.now();
      agent = await AgentProcess.start({ label, store: file, statusIntervalMs: 60_000 });
      await eventually(async () => assert.equal(await published(), undefined), 5000);
      assert.ok(Date.now() - restartedAt < 5000, `gone ${Date.now() - restartedAt} ms after the start`);
    } finally {
      await agent?.stop();
      store.close();
      ipTry(null, ['netns', 'del', ns]);
    }
  });

  test('a named namespace the agent made, deleted by someone: its status says so, not configured', async () => {
    const label = `stn${tag()}`;
    const ns = `stnn${tag()}`;
    const file = path.join(dir, `${label}.db`);
    let agent: AgentProcess | undefined;
    try {
      agent = await AgentProcess.start({ label, store: file });
      const key = configKey(label, 'interface', 'lo');
      const lo = { name: 'lo', type: 'LOOPBACK', enabled: true, namespace: { type: 'NAMED_NS', name: ns } };
      assert.equal((await agent.request('PUT', `/v1/config${key}`, JSON.stringify(lo))).status, 200);
      await agent.until([key], 'configured');
      type Row = { state: string; reason?: string; updatedAt: string };
      const made = () => agent!.json<Row>('GET', `/v1/status/named-namespace/${ns}`);
      assert.equal((await made()).state, 'configured');
      const deletedAt = Date.now();
      ip(null, ['netns', 'del', ns]);
      await agent.until([key], 'pending');
      await eventually(async () =>
        assert.deepEqual(await made(), {
          ...(await made()),
          state: 'pending',
          reason: `deleted outside the agent: its items wait for a namespace of that name (ip netns add ${ns})`,
        }),
      );
      // Changed when the namespace went, not when the agent made it.
      assert.ok(Date.parse((await made()).updatedAt) >= deletedAt, (await made()).updatedAt);
      // The item's own reason says why its wait does not end by itself, and what ends it.
      const itemRow = await agent.json<Row>('GET', `/v1/status${key}`);
      assert.equal(
        itemRow.reason,
        `waiting for named namespace ${ns} (deleted outside the agent, not made again by it: ` +
          `ip netns add ${ns}, or a restart of the agent, brings it back)`,
      );
      // netnsctl status names it the same way.
      const cli = await netnsctl([
        '--server',
        agent.server,
        '--label',
        label,
        '-o',
        'json',
        'status',
        `named-namespace/${ns}`,
      ]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal((JSON.parse(cli.stdout) as Row).state, 'pending');
      ip(null, ['netns', 'add', ns]);
      await agent.until([key], 'configured');
      assert.equal((await made()).state, 'configured');
      await agent.request('DELETE', `/v1/config${key}`);
    } finally {
      await agent?.stop();
      ipTry(null, ['netns', 'del', ns]);
    }
  });
});
