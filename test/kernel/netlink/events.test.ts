/**
 * KernelEventStream hears what `ip` does in its namespace (root): link, address, route and
 * neighbour additions and removals, and nothing from other namespaces.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelEventStream, type KernelEvent } from '../../../src/netlink/index.js';
import { eventually, ipBatch, skipUnlessRoot, withNamespaces } from '../../helpers/kernel.js';

function describeEvent(event: KernelEvent): string {
  const verb = event.removed ? 'del' : 'new';
  switch (event.topic) {
    case 'link':
      return `${verb} link ${event.link.name}`;
    case 'address':
      return `${verb} address ${event.address.address}/${event.address.prefixLength}`;
    case 'route':
      return `${verb} route ${event.route.dst ?? 'default'}/${event.route.dstLength} table ${event.route.table}`;
    case 'neighbour':
      // a removal reports the entry without its link-layer address (the kernel first marks it FAILED)
      return event.removed
        ? `del neighbour ${event.neighbour.address}`
        : `new neighbour ${event.neighbour.address} ${event.neighbour.mac ?? ''}`.trim();
  }
}

describe('kernel events', { skip: skipUnlessRoot() }, () => {
  test('link, address, route and neighbour additions and removals made by ip', () =>
    withNamespaces(2, async ([a, other]) => {
      const seen: string[] = [];
      const lost: string[] = [];
      const stream = new KernelEventStream({
        namespacePath: a!.path,
        onEvents: (events) => seen.push(...events.map(describeEvent)),
        onLost: (reason) => lost.push(reason),
      });
      try {
        const expectSeen = (wanted: string[]): Promise<void> =>
          eventually(() => {
            for (const w of wanted)
              assert.ok(seen.includes(w), `missing event "${w}" in ${JSON.stringify(seen)}`);
          });
        // noise in another namespace must not show up here
        ipBatch(other!.name, ['link add zz0 type veth peer name zz1']);
        ipBatch(a!.name, [
          'link add ev0 type veth peer name ev1',
          'link set ev0 up',
          'link set ev1 up',
          'addr add 10.3.0.1/24 dev ev0',
          'addr add 2001:db8:3::1/64 dev ev0 nodad',
          'route add 10.4.0.0/16 via 10.3.0.2 table 1000',
          'route add 2001:db8:4::/48 via 2001:db8:3::2',
          'neigh add 10.3.0.9 lladdr 02:00:00:00:00:09 dev ev0 nud permanent',
          'neigh add 2001:db8:3::9 lladdr 02:00:00:00:00:19 dev ev0 nud permanent',
        ]);
        await expectSeen([
          'new link ev0',
          'new link ev1',
          'new address 10.3.0.1/24',
          'new address 2001:db8:3::1/64',
          'new route 10.4.0.0/16 table 1000',
          'new route 2001:db8:4::/48 table 254',
          'new neighbour 10.3.0.9 02:00:00:00:00:09',
          'new neighbour 2001:db8:3::9 02:00:00:00:00:19',
        ]);
        ipBatch(a!.name, [
          'neigh del 10.3.0.9 dev ev0',
          'neigh del 2001:db8:3::9 dev ev0',
          'route del 10.4.0.0/16 table 1000',
          'route del 2001:db8:4::/48',
          'addr del 10.3.0.1/24 dev ev0',
          'addr del 2001:db8:3::1/64 dev ev0',
          'link del ev0',
        ]);
        await expectSeen([
          'del neighbour 10.3.0.9',
          'del neighbour 2001:db8:3::9',
          'del route 10.4.0.0/16 table 1000',
          'del route 2001:db8:4::/48 table 254',
          'del address 10.3.0.1/24',
          'del address 2001:db8:3::1/64',
          'del link ev0',
          'del link ev1',
        ]);
        assert.ok(!seen.some((s) => s.includes('zz')), 'no events from the other namespace');
        // in kernel order: the address came before its removal, the link last
        assert.ok(seen.indexOf('new address 10.3.0.1/24') < seen.indexOf('del address 10.3.0.1/24'));
        assert.ok(seen.indexOf('del address 10.3.0.1/24') < seen.indexOf('del link ev0'));
        assert.deepEqual(lost, []);
        assert.equal(stream.undecodable, 0);
      } finally {
        stream.close();
        stream.close();
      }
    }));

  test('topics restrict what is heard; events stop after close', () =>
    withNamespaces(1, async ([a]) => {
      const seen: string[] = [];
      const stream = new KernelEventStream({
        namespacePath: a!.path,
        topics: ['address'],
        onEvents: (events) => seen.push(...events.map(describeEvent)),
        onLost: () => undefined,
      });
      try {
        ipBatch(a!.name, ['link add t0 type veth peer name t1', 'addr add 10.5.0.1/24 dev t0']);
        await eventually(() => assert.ok(seen.includes('new address 10.5.0.1/24')));
        assert.ok(!seen.some((s) => s.includes('link')), JSON.stringify(seen));
      } finally {
        stream.close();
      }
      const count = seen.length;
      ipBatch(a!.name, ['addr add 10.5.0.2/24 dev t0']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(seen.length, count);
    }));

  test('neighbours of multicast addresses are dropped by the kernel, before they reach us', () =>
    withNamespaces(1, async ([a]) => {
      const seen: string[] = [];
      const unfiltered: string[] = [];
      const stream = new KernelEventStream({
        namespacePath: a!.path,
        onEvents: (events) => seen.push(...events.map(describeEvent)),
        onLost: () => undefined,
      });
      // The control: the same namespace heard without the filter.
      const control = new KernelEventStream({
        namespacePath: a!.path,
        dropKernelNoise: false,
        onEvents: (events) => unfiltered.push(...events.map(describeEvent)),
        onLost: () => undefined,
      });
      try {
        assert.equal(stream.filtered, true);
        assert.equal(control.filtered, false);
        ipBatch(a!.name, [
          'link add m0 type veth peer name m1',
          'link set m0 up',
          'neigh add ff02::1:ff00:9 lladdr 33:33:ff:00:00:09 dev m0 nud permanent',
          'neigh add 239.1.2.3 lladdr 01:00:5e:01:02:03 dev m0 nud permanent',
          'neigh add 10.6.0.9 lladdr 02:00:00:00:00:09 dev m0 nud permanent',
          'neigh add 2001:db8:6::9 lladdr 02:00:00:00:00:19 dev m0 nud permanent',
          'neigh del ff02::1:ff00:9 dev m0',
          'neigh del 239.1.2.3 dev m0',
          'neigh del 10.6.0.9 dev m0',
        ]);
        await eventually(() => assert.ok(unfiltered.includes('del neighbour 10.6.0.9')));
        for (const multicast of [
          'new neighbour ff02::1:ff00:9 33:33:ff:00:00:09',
          'new neighbour 239.1.2.3 01:00:5e:01:02:03',
          'del neighbour ff02::1:ff00:9',
          'del neighbour 239.1.2.3',
        ])
          assert.ok(
            unfiltered.includes(multicast),
            `the kernel reports ${multicast}: ${JSON.stringify(unfiltered)}`,
          );
        // With the filter: unicast ones and the rest still come, the multicast ones do not.
        await eventually(() => assert.ok(seen.includes('del neighbour 10.6.0.9'), JSON.stringify(seen)));
        assert.ok(seen.includes('new link m0'));
        assert.ok(seen.includes('new neighbour 10.6.0.9 02:00:00:00:00:09'));
        assert.ok(seen.includes('new neighbour 2001:db8:6::9 02:00:00:00:00:19'));
        assert.deepEqual(
          seen.filter((s) => s.includes('ff02:') || s.includes('239.')),
          [],
          JSON.stringify(seen),
        );
        assert.equal(stream.undecodable, 0);
      } finally {
        stream.close();
        control.close();
      }
    }));

  test("the kernel's own routes (local table, an address's network) are dropped by the kernel; other routes still come", () =>
    withNamespaces(1, async ([a]) => {
      const seen: string[] = [];
      const stream = new KernelEventStream({
        namespacePath: a!.path,
        topics: ['route'],
        onEvents: (events) => seen.push(...events.map(describeEvent)),
        onLost: () => undefined,
      });
      const control = new KernelEventStream({
        namespacePath: a!.path,
        topics: ['route'],
        dropKernelNoise: false,
        onEvents: () => undefined,
        onLost: () => undefined,
      });
      try {
        assert.equal(stream.filtered, true);
        ipBatch(a!.name, [
          'link add m0 type veth peer name m1',
          'link set m0 up',
          'addr add 10.8.0.1/24 dev m0',
          'route add 10.9.0.0/24 via 10.8.0.2 dev m0',
        ]);
        // The address makes local and broadcast routes in the local table and its network's route
        // in the main table: the control hears them (and skips them), the filtered stream never
        // receives them. Someone's route (protocol boot) comes.
        await eventually(() =>
          assert.ok(
            seen.some((s) => s.startsWith('new route 10.9.0.0')),
            JSON.stringify(seen),
          ),
        );
        await eventually(() => assert.ok(control.ignored >= 3, `control ignored ${control.ignored}`));
        assert.equal(stream.ignored, 0);
        assert.ok(!seen.some((s) => s.startsWith('new route 10.8.0.0')), JSON.stringify(seen));
      } finally {
        stream.close();
        control.close();
      }
    }));

  test('a stream without neighbours or routes has no filter', () =>
    withNamespaces(1, ([a]) => {
      const stream = new KernelEventStream({
        namespacePath: a!.path,
        topics: ['link'],
        onEvents: () => undefined,
        onLost: () => undefined,
      });
      try {
        assert.equal(stream.filtered, false);
      } finally {
        stream.close();
      }
    }));
});
