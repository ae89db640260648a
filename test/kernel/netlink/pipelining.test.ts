/**
 * The socket under load and at its edges (root): hundreds of requests in flight, each resolved or
 * rejected with its own error; dumps while writes are in flight; close() with requests pending; a
 * sendmsg() refused whole.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ClosedError } from '../../../src/errors.js';
import { IFA_F_NODAD, NetlinkError, NetlinkHandle } from '../../../src/netlink/index.js';
import { ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { vethInside, withNetlink } from './fixtures.js';

function v4(i: number): string {
  return `10.${100 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

function ipAddresses(ns: string): string[] {
  const links = ipJson<{ addr_info: { local: string }[] }[]>(ns, ['-4', 'addr', 'show']);
  return links.flatMap((l) => l.addr_info.map((a) => a.local));
}

describe('pipelining and errors', { skip: skipUnlessRoot() }, () => {
  test('500 requests in flight: valid and duplicate adds each settle with their own outcome', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name);
      const sendsBefore = h!.socket.counters.sendCalls;
      // even i: a new address; odd i: the address of i - 1 again, which the kernel refuses
      const promises = Array.from({ length: 500 }, (_, i) =>
        h!.addrAdd({ index: va, address: v4(i - (i % 2)), prefixLength: 32 }),
      );
      assert.ok(h!.socket.counters.requests >= 500);
      const results = await Promise.allSettled(promises);
      results.forEach((result, i) => {
        if (i % 2 === 0) {
          assert.equal(result.status, 'fulfilled', `request ${i}`);
        } else {
          assert.equal(result.status, 'rejected', `request ${i}`);
          const error = (result as PromiseRejectedResult).reason as unknown;
          assert.ok(error instanceof NetlinkError, `request ${i}: ${String(error)}`);
          assert.equal(error.errnoName, 'EEXIST');
          assert.equal(error.errno, 17);
          // the error names this request's address, not a neighbour's
          assert.ok(error.request.includes(`addr add ${v4(i - 1)}/32 `), error.request);
        }
      });
      const sends = h!.socket.counters.sendCalls - sendsBefore;
      assert.ok(sends < 50, `batched into few sendmsg calls (${sends})`);
      assert.equal(h!.socket.inFlight, 0);
      const theirs = ipAddresses(a!.name).sort();
      assert.deepEqual(theirs, Array.from({ length: 250 }, (_, i) => v4(i * 2)).sort());
    }));

  test('errors of different kinds in one batch land on the right requests', () =>
    withNetlink(1, async ({ handles: [h], namespaces: [a] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24' });
      const outcomes = await Promise.allSettled([
        h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.2' }),
        h!.routeAdd({ dst: '10.6.0.0', dstLength: 16, gateway: '10.99.0.1', oif: va }),
        h!.addrAdd({ index: 99999, address: '10.7.0.1', prefixLength: 24 }),
        h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.2' }),
        h!.linkSetMtu(va, 1400),
      ]);
      const reason = (i: number): NetlinkError => {
        const outcome = outcomes[i]!;
        assert.equal(outcome.status, 'rejected', `request ${i}`);
        const error = (outcome as PromiseRejectedResult).reason as unknown;
        assert.ok(error instanceof NetlinkError);
        return error;
      };
      assert.equal(outcomes[0]!.status, 'fulfilled');
      assert.equal(reason(1).kernelMessage, 'Nexthop has invalid gateway');
      assert.equal(reason(2).errnoName, 'ENODEV');
      assert.equal(reason(3).errnoName, 'EEXIST');
      assert.equal(outcomes[4]!.status, 'fulfilled');
    }));

  test('dumps while many writes are in flight come back whole, in order with the writes', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name);
      const first = Array.from({ length: 300 }, (_, i) =>
        h!.addrAdd({ index: va, address: v4(i), prefixLength: 32 }),
      );
      const dumpsMeanwhile = [
        h!.addrList({ index: va }),
        h!.linkList(),
        h!.routeList(),
        h!.neighList(),
      ] as const;
      const second = Array.from({ length: 300 }, (_, i) =>
        h!.addrAdd({
          index: va,
          address: `2001:db8:7::${(i + 1).toString(16)}`,
          prefixLength: 128,
          flags: IFA_F_NODAD,
        }),
      );
      const [addresses, links, routes, neighbours] = await Promise.all(dumpsMeanwhile);
      await Promise.all([...first, ...second]);
      // the dump was queued after the first 300 adds: all of them are in it
      const dumped = new Set(addresses!.map((x) => x.address));
      for (let i = 0; i < 300; i++) assert.ok(dumped.has(v4(i)), v4(i));
      assert.ok(Array.isArray(links) && links.some((l) => l.name === 'va'));
      assert.ok(Array.isArray(routes) && Array.isArray(neighbours));
      const after = await h!.addrList({ index: va });
      assert.equal(after.filter((x) => x.address.startsWith('2001:db8:7::')).length, 300);
      assert.equal(after.filter((x) => x.address.startsWith('10.')).length, 300);
    }));

  test('several dumps at once all resolve with the same list', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      vethInside(a!.name, { v4: '10.1.0.1/24' });
      const lists = await Promise.all(Array.from({ length: 8 }, () => h!.linkList()));
      const names = lists.map((l) =>
        l
          .map((x) => x.name)
          .sort()
          .join(','),
      );
      assert.equal(new Set(names).size, 1);
      assert.equal(names[0], 'lo,va,vb');
    }));

  test('a failed link creation rejects cleanly, with no stray unhandled rejection', () =>
    withNetlink(1, async ({ handles: [h] }) => {
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', listener);
      try {
        await h!.linkAddVeth({ name: 'dup0', peer: { name: 'dup1' } });
        await assert.rejects(h!.linkAddVeth({ name: 'dup0', peer: { name: 'dup2' } }), (e: unknown) => {
          assert.ok(e instanceof NetlinkError);
          assert.equal(e.errnoName, 'EEXIST');
          return true;
        });
        await assert.rejects(h!.linkAddVeth({ name: 'bad name', mtu: 1, peer: { name: 'x' } }), NetlinkError);
        for (let i = 0; i < 5; i++) await nextTurn();
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', listener);
      }
    }));

  test('close() rejects queued and in-flight requests with ClosedError; it is idempotent', () =>
    withNetlink(1, async ({ namespaces: [a] }) => {
      const { va } = vethInside(a!.name);
      // queued: close before the batch is even sent
      const queuedHandle = new NetlinkHandle({ namespacePath: a!.path });
      const queued = Array.from({ length: 20 }, (_, i) =>
        queuedHandle.addrAdd({ index: va, address: v4(i), prefixLength: 32 }),
      );
      const queuedDump = queuedHandle.linkList();
      queuedHandle.close();
      for (const p of [...queued, queuedDump]) await assert.rejects(p, ClosedError);
      queuedHandle.close();
      // in flight: sent (the kernel has done the work), answers not read yet
      const sentHandle = new NetlinkHandle({ namespacePath: a!.path });
      const sent = Array.from({ length: 20 }, (_, i) =>
        sentHandle.addrAdd({ index: va, address: v4(100 + i), prefixLength: 32 }),
      );
      await Promise.resolve();
      assert.ok(sentHandle.socket.inFlight > 0, 'requests are in flight');
      sentHandle.close();
      sentHandle.close();
      for (const p of sent) await assert.rejects(p, ClosedError);
      // use after close
      await assert.rejects(sentHandle.linkList(), ClosedError);
      await assert.rejects(sentHandle.linkSetUp(va), ClosedError);
      assert.doesNotThrow(() => sentHandle.close());
      // what was sent was applied: the kernel ran it inside sendmsg()
      const applied = ipAddresses(a!.name);
      for (let i = 0; i < 20; i++) assert.ok(applied.includes(v4(100 + i)));
      for (let i = 0; i < 20; i++)
        assert.ok(!applied.includes(v4(i)), 'queued requests never reached the kernel');
    }));

  test('a sendmsg() the kernel refuses whole rejects its requests; the socket goes on', () =>
    withNetlink(1, async ({ handles: [h] }) => {
      // Larger than the socket's send buffer (4 MiB, which the kernel doubles): sendmsg() fails
      // with EMSGSIZE and nothing runs.
      const huge = Buffer.alloc(10 * 1024 * 1024);
      huge.writeUInt32LE(huge.length, 0);
      huge.writeUInt16LE(18 /* RTM_GETLINK */, 4);
      const errorsBefore = h!.socket.counters.errors;
      await assert.rejects(
        h!.socket.request(huge, () => 'oversized request'),
        (error: unknown) => {
          assert.ok(error instanceof NetlinkError);
          assert.equal(error.errnoName, 'EMSGSIZE');
          assert.ok(error.request.includes('oversized request'), error.request);
          return true;
        },
      );
      assert.equal(h!.socket.counters.errors, errorsBefore + 1);
      assert.equal(h!.socket.inFlight, 0);
      assert.ok((await h!.linkList()).some((l) => l.name === 'lo'));
    }));

  test('a refused batch that filled the window lets the requests queued behind it go', () =>
    withNetlink(1, async ({ namespaces: [a] }) => {
      // One request in flight at most: the second waits in the queue until the first is answered;
      // a refusal of the whole sendmsg() is that answer (no acknowledgement ever comes for it).
      const h = new NetlinkHandle({ namespacePath: a!.path, maxInFlight: 1 });
      try {
        const huge = Buffer.alloc(10 * 1024 * 1024);
        huge.writeUInt32LE(huge.length, 0);
        huge.writeUInt16LE(18 /* RTM_GETLINK */, 4);
        const refused = h.socket.request(huge, () => 'oversized request');
        const behind = h.linkList();
        await assert.rejects(refused, (error: unknown) => error instanceof NetlinkError);
        assert.ok((await behind).some((l) => l.name === 'lo'));
      } finally {
        h.close();
      }
    }));
});
