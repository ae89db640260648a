/**
 * The book of originals through the agent process (src/agent/originals-file.ts): an EXISTING
 * interface configured by the agent, then deleted from the embedded store with netnsctl while the
 * agent is down. At its next start the agent gives the interface back what it had (MTU, down, no
 * address of ours), though no item names its namespace any more, and the book file goes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { eventually, ip, ipJson, ipTry, skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, configKey, netnsctl, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'originals-e2e-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ex0(ns: string): { mtu: number; flags: string[] } {
  const [link] = ipJson<{ mtu: number; flags: string[] }[]>(ns, ['link', 'show', 'dev', 'ex0']);
  assert.ok(link, 'ex0 is there');
  return link;
}

describe('the book of originals', { skip: skipUnlessRoot() }, () => {
  test('an EXISTING item deleted while the agent was down is undone at its start', async () => {
    const label = `orig${tag()}`;
    const ns = `orign${tag()}`;
    const store = path.join(dir, `${label}.db`);
    const book = path.join(dir, `${label}.originals.json`);
    const base = ['--store', store, '--label', label];
    try {
      ip(null, ['netns', 'add', ns]);
      ip(ns, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const value = {
        name: 'ex',
        type: 'EXISTING',
        enabled: true,
        host_if_name: 'ex0',
        mtu: 1400,
        ip_addresses: ['10.9.0.1/24'],
        namespace: { type: 'NAMED_NS', name: ns },
      };
      const put = await netnsctl([...base, 'put', 'interface/ex', '-'], JSON.stringify(value));
      assert.equal(put.code, 0, put.stderr);

      let agent = await AgentProcess.start({ label, store });
      try {
        await eventually(async () =>
          assert.equal((await agent.stateOf(configKey(label, 'interface', 'ex')))?.state, 'configured'),
        );
        assert.equal(ex0(ns).mtu, 1400);
        assert.ok(ex0(ns).flags.includes('UP'));
        assert.match(readFileSync(book, 'utf8'), /"mtu": 1600/, 'the book next to the store');
      } finally {
        await agent.stop();
      }

      const del = await netnsctl([...base, 'del', 'interface/ex']);
      assert.equal(del.code, 0, del.stderr);
      agent = await AgentProcess.start({ label, store });
      try {
        await eventually(() => {
          assert.equal(ex0(ns).mtu, 1600, `the owner's MTU; agent log:\n${agent.logText()}`);
          assert.ok(!ex0(ns).flags.includes('UP'), 'down, as it was');
          assert.doesNotMatch(ip(ns, ['-4', 'addr', 'show', 'dev', 'ex0']), /10\.9\.0\.1/, 'our address');
        });
        await eventually(() => assert.equal(existsSync(book), false, 'nothing left to undo'));
      } finally {
        await agent.stop();
      }
    } finally {
      ipTry(null, ['netns', 'del', ns]);
    }
  });

  test('plan of an EXISTING item that drops an address the link had before says it stays (applying leaves it), one of ours that it goes', async () => {
    const label = `orig${tag()}`;
    const ns = `orign${tag()}`;
    const store = path.join(dir, `${label}.db`);
    try {
      ip(null, ['netns', 'add', ns]);
      ip(ns, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      ip(ns, ['addr', 'add', '10.9.1.1/24', 'dev', 'ex0']);
      const value = (addresses: string[]): Record<string, unknown> => ({
        name: 'ex',
        type: 'EXISTING',
        enabled: true,
        host_if_name: 'ex0',
        ip_addresses: addresses,
        namespace: { type: 'NAMED_NS', name: ns },
      });
      const agent = await AgentProcess.start({ label, store });
      try {
        const base = ['--server', agent.server, '--label', label];
        const put = await netnsctl(
          [...base, 'put', 'interface/ex', '-', '--wait'],
          JSON.stringify(value(['10.9.1.1/24', '10.9.2.1/24'])),
        );
        assert.equal(put.code, 0, put.stderr);
        const file = path.join(dir, `${label}-none.json`);
        writeFileSync(file, JSON.stringify({ kind: 'interface', ...value([]) }));
        const plan = await netnsctl([...base, 'plan', '-f', file, '-o', 'table']);
        assert.equal(plan.code, 0, plan.stderr);
        assert.match(
          plan.stdout,
          /leaves address 10\.9\.1\.1\/24 on the link \(it had it before this item\)/,
        );
        assert.match(plan.stdout, /removes address 10\.9\.2\.1\/24/);
        assert.doesNotMatch(plan.stdout, /removes address 10\.9\.1\.1/);
        // As applying does.
        const apply = await netnsctl([...base, 'apply', '-f', file, '--wait']);
        assert.equal(apply.code, 0, apply.stderr);
        await eventually(() => {
          const shown = ip(ns, ['-4', 'addr', 'show', 'dev', 'ex0']);
          assert.match(shown, /10\.9\.1\.1\/24/, "the owner's address stays");
          assert.doesNotMatch(shown, /10\.9\.2\.1/, 'ours goes');
        });
      } finally {
        await agent.stop();
      }
    } finally {
      ipTry(null, ['netns', 'del', ns]);
    }
  });
});
