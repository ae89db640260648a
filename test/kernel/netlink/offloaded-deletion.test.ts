/**
 * Link deletions are sent from a thread of libuv's pool (the kernel waits for RCU inside that
 * sendmsg(): tens of milliseconds a pair), so the event loop goes on meanwhile (root). What must
 * still hold: the socket's requests reach the kernel in the order they were made, errors land on
 * their request, and close() with a deletion on the pool neither crashes nor leaks the socket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ClosedError } from '../../../src/errors.js';
import { NetlinkError, NetlinkHandle } from '../../../src/netlink/index.js';
import { ipBatch, ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { ROOT } from '../../helpers/agent.js';
import { withNetlink, type IpLink } from './fixtures.js';

function linkNames(ns: string): string[] {
  return ipJson<IpLink[]>(ns, ['link', 'show']).map((l) => l.ifname);
}

/** `count` VETH pairs `<a>N`/`<b>N` in link group `group` of `ns`: deleted together, a long deletion. */
function pairsInGroup(ns: string, [a, b]: [string, string], count: number, group: number): void {
  ipBatch(
    ns,
    Array.from(
      { length: count },
      (_, i) => `link add ${a}${i} group ${group} type veth peer name ${b}${i} group ${group}`,
    ),
  );
}

/**
 * Runs `deletion` while `meanwhile` ticks every millisecond; asserts that the event loop was never
 * held for half of it (5 ms at least), and that the links named `<a>N`/`<b>N` are gone.
 */
async function deleteWithLoopFree(
  ns: string,
  [a, b]: [string, string],
  deletion: () => Promise<void>,
  meanwhile: () => void,
): Promise<number> {
  const stalls = monitorEventLoopDelay({ resolution: 1 });
  stalls.enable();
  const ticker = setInterval(meanwhile, 1);
  const started = performance.now();
  try {
    await deletion();
  } finally {
    clearInterval(ticker);
    stalls.disable();
  }
  const took = performance.now() - started;
  const pattern = new RegExp(`^(${a}|${b})\\d`);
  assert.deepEqual(
    linkNames(ns).filter((n) => pattern.test(n)),
    [],
  );
  assert.ok(
    stalls.max / 1e6 < Math.max(5, took / 2),
    `event loop held ${(stalls.max / 1e6).toFixed(1)} ms of a ${took.toFixed(1)} ms deletion`,
  );
  return took;
}

describe('offloaded link deletions', { skip: skipUnlessRoot() }, () => {
  test('a deletion, then at once a creation of the same name: the kernel sees them in that order', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const first = await h!.linkAddVeth({ name: 'od0', peer: { name: 'od1' } });
      const offloadedBefore = h!.socket.counters.offloadedSends;
      // Not awaited in between: both are queued before anything is sent.
      const deleted = h!.linkDel(first!.index);
      const created = h!.linkAddVeth({ name: 'od0', peer: { name: 'od1' } });
      await deleted;
      const second = await created;
      assert.ok(second, 'the new pair');
      assert.notEqual(second.index, first!.index);
      assert.equal(h!.socket.counters.offloadedSends - offloadedBefore, 1);
      assert.deepEqual(
        linkNames(a!.name)
          .filter((n) => n.startsWith('od'))
          .sort(),
        ['od0', 'od1'],
      );
      assert.equal(h!.socket.inFlight, 0);
    }));

  test('the event loop runs while the kernel deletes', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      // 120 pairs in one group: one deletion the kernel takes long over.
      pairsInGroup(a!.name, ['og', 'oh'], 120, 91);
      let turns = 0;
      const took = await deleteWithLoopFree(
        a!.name,
        ['og', 'oh'],
        () => h!.linkDelGroup(91),
        () => turns++,
      );
      // Timers ran during the deletion instead of all of it being one stall (one turn at least: a
      // busy machine may not give this thread the CPU more often than that in tens of ms).
      assert.ok(turns >= 1 || took < 5, `${turns} timer turns in ${took.toFixed(1)} ms`);
    }));

  test("other sockets' requests wait for the deletion instead of blocking the event loop on the kernel's lock", () =>
    withNetlink(2, async ({ namespaces: [a, b], handles: [h, other] }) => {
      pairsInGroup(a!.name, ['ow', 'ox'], 600, 93);
      const lists: Promise<unknown>[] = [];
      // Another namespace's socket asks all along (a dump needs the lock the deletion holds).
      await deleteWithLoopFree(
        a!.name,
        ['ow', 'ox'],
        () => h!.linkDelGroup(93),
        () => lists.push(other!.linkList()),
      );
      await Promise.all(lists);
      assert.ok(lists.length > 0);
      assert.ok(linkNames(b!.name).includes('lo'));
    }));

  test("a deletion's callback that throws is an uncaught exception, and later callbacks still come", () => {
    // In a process of its own: the exception is the process's, not this test runner's.
    const script = `
      const { native } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/native/binding.js'))});
      const { encodeLinkRequest } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/netlink/codec/link.js'))});
      const caught = [];
      process.on('uncaughtException', (error) => caught.push(error.message));
      const socket = native().open(null, 0, 1 << 20, [], () => {}, () => {});
      const request = encodeLinkRequest(17, 0, 999999, {}); // RTM_DELLINK of no link
      request.writeUInt16LE(request.readUInt16LE(6) | 1 | 4, 6); // NLM_F_REQUEST | NLM_F_ACK
      native().sendAsync(socket, request, () => { throw new Error('from the first'); });
      await new Promise((resolve) => native().sendAsync(socket, request, resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      native().close(socket);
      console.log(JSON.stringify(caught));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout.trim()), ['from the first']);
  });

  test("a deletion stuck in libuv's queue (its threads busy) holds other sockets' requests a second at most", () =>
    withNetlink(2, async ({ handles: [h, other] }) => {
      const { pbkdf2 } = await import('node:crypto');
      // Every thread of the pool busy for ~2.5 s (calibrated on one run first).
      const started = performance.now();
      await new Promise((resolve) => pbkdf2('x', 'salt', 100_000, 32, 'sha256', resolve));
      const iterations = Math.ceil((100_000 * 2500) / Math.max(1, performance.now() - started));
      const busy = Array.from(
        { length: 4 },
        () => new Promise((resolve) => pbkdf2('x', 'salt', iterations, 32, 'sha256', resolve)),
      );
      const deletion = h!.linkDel(999_999).catch(() => undefined); // queued behind them
      await new Promise((resolve) => setImmediate(resolve));
      const asked = performance.now();
      await other!.linkList();
      const waited = performance.now() - asked;
      assert.ok(waited < 1600, `another socket's request waited ${waited.toFixed(0)} ms`);
      await Promise.all([...busy, deletion]);
    }));

  test('a refused deletion rejects with the kernel error; the requests behind it go on', () =>
    withNetlink(1, async ({ handles: [h] }) => {
      const refused = h!.linkDel(99999);
      const listed = h!.linkList();
      await assert.rejects(refused, (error: unknown) => {
        assert.ok(error instanceof NetlinkError);
        assert.equal(error.errnoName, 'ENODEV');
        return true;
      });
      assert.ok((await listed).some((l) => l.name === 'lo'));
      assert.equal(h!.socket.inFlight, 0);
    }));

  test('close() while a deletion is on the pool rejects what waits; the socket is freed after it', () =>
    withNetlink(1, async ({ namespaces: [a] }) => {
      pairsInGroup(a!.name, ['oc', 'od'], 20, 92);
      const h = new NetlinkHandle({ namespacePath: a!.path });
      const deleting = h.linkDelGroup(92);
      const behind = h.linkList();
      // Let the deletion leave for the pool, then close while it is (probably) there.
      await new Promise((resolve) => setImmediate(resolve));
      h.close();
      await assert.rejects(behind, ClosedError);
      await deleting.catch((error: unknown) => assert.ok(error instanceof ClosedError, String(error)));
      h.close();
      // The kernel finishes the deletion whatever became of the socket.
      for (let i = 0; i < 100 && linkNames(a!.name).some((n) => /^o[cd]\d/.test(n)); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(
        linkNames(a!.name).filter((n) => /^o[cd]\d/.test(n)),
        [],
      );
      // Another socket in the same namespace works on.
      const again = new NetlinkHandle({ namespacePath: a!.path });
      try {
        assert.ok((await again.linkList()).some((l) => l.name === 'lo'));
      } finally {
        again.close();
      }
    }));
});
