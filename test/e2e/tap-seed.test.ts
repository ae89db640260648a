/**
 * The seeds' TAP example through the agent process on the embedded store: pending until another
 * program makes the TAP under its temporary name (`ip tuntap`), then renamed, moved and configured;
 * a restart writes nothing; deleting the key gives the TAP back under its temporary name in the
 * default namespace, never deleted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import { ip, ipTry, skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  Cleanup,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  kernelWriteOps,
  seedExample,
  tag,
} from '../helpers/agent.js';

describe("seeds' TAP through the agent", { skip: skipUnlessRoot() }, () => {
  test('pending until the TAP appears; configured; a restart writes nothing; deleted -> given back', async () => {
    const cleanup = new Cleanup();
    try {
      const t = tag();
      const label = `e2et${t}`;
      const ns = `e2etn${t}`;
      const temp = `tt${t}`;
      const host = `th${t}`;
      const dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-tap-'));
      cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
      cleanup.add(() => deleteNamespaces(ns));
      cleanup.add(() => ipTry(null, ['link', 'del', temp]));
      const storeFile = path.join(dir, 'store.db');
      const store = new SqliteStore({ file: storeFile });
      cleanup.add(() => store.close());
      const value = { ...seedExample('linux-tap', ns), host_if_name: host, tap: { temp_if_name: temp } };
      const key = configKey(label, 'interface', 'tap1');

      let agent = await AgentProcess.start({ label, store: storeFile });
      cleanup.add(() => agent.stop());
      await store.put(key, JSON.stringify(value));
      await eventually(async () => {
        const row = await agent.stateOf(key);
        assert.equal(row?.state, 'pending');
        assert.match(row?.reason ?? '', new RegExp(`waiting for TAP ${temp}`));
      });

      ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
      await agent.until([key], 'configured');
      const attached = ipLink(ns, host);
      assert.ok(attached, `${host} in ${ns}`);
      assert.equal(attached.address, '92:c7:42:67:ab:cc');
      assert.equal(attached.mtu, 1500);
      assert.equal(ipLink(null, temp), undefined, 'no longer under its temporary name');

      await agent.stop();
      agent = await AgentProcess.start({ label, store: storeFile });
      await agent.until([key], 'configured');
      assert.deepEqual(kernelWriteOps(await agent.history()), [], 'a restart writes nothing');
      assert.equal(ipLink(ns, host)?.ifindex, attached.ifindex);

      await store.delete(key);
      await eventually(() => {
        const back = ipLink(null, temp);
        assert.ok(back, `${temp} back in the default namespace`);
        assert.equal(back.ifindex, attached.ifindex, 'the same TAP, never deleted');
        assert.equal(back.ifalias ?? '', '', 'our mark is gone');
      });
    } finally {
      await cleanup.run();
    }
  });
});
