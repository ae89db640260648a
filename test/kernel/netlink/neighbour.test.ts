/**
 * Neighbour (ARP/NDP) operations of NetlinkHandle against `ip -json neigh show nud all` (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF_INET,
  AF_INET6,
  NUD_NOARP,
  NUD_PERMANENT,
  NUD_REACHABLE,
  NUD_STALE,
  NetlinkError,
  type Neighbour,
} from '../../../src/netlink/index.js';
import { eventually, ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { NUD, ipNames, vethInside, withNetlink } from './fixtures.js';

interface IpNeighbour {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}

type Comparable = [string, string, string | null, string];

function fromIp(n: IpNeighbour): Comparable {
  return [n.dst, n.dev, n.lladdr ?? null, [...n.state].sort().join(',')];
}

function fromOurs(n: Neighbour, names: Map<number, string>): Comparable {
  const states = Object.entries(NUD)
    .filter(([, bit]) => (n.state & bit) !== 0)
    .map(([name]) => name)
    .sort();
  return [n.address, names.get(n.index) ?? String(n.index), n.mac ?? null, states.join(',')];
}

/**
 * Ours and ip's, retried until two dumps agree: the kernel adds entries of its own meanwhile
 * (ff02::16 for MLD as IPv6 comes up), so one snapshot each can differ.
 */
function compareAll(ns: string, handle: { neighList: () => Promise<Neighbour[]> }): Promise<Comparable[]> {
  return eventually(() => compareOnce(ns, handle));
}

async function compareOnce(
  ns: string,
  handle: { neighList: () => Promise<Neighbour[]> },
): Promise<Comparable[]> {
  const names = ipNames(ns);
  const ours = (await handle.neighList()).map((n) => fromOurs(n, names)).sort();
  const theirs = ipJson<IpNeighbour[]>(ns, ['neigh', 'show', 'nud', 'all']).map(fromIp).sort();
  assert.deepEqual(ours, theirs);
  return ours;
}

const find = (list: Comparable[], dst: string): Comparable | undefined =>
  list.find(([d, dev]) => d === dst && dev === 'va');

describe('neighbours', { skip: skipUnlessRoot() }, () => {
  test('neighAdd PERMANENT, NOARP, REACHABLE, STALE, v4 and v6; neighList matches ip', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.neighAdd({ index: va, address: '10.1.0.10', mac: '02:00:00:00:00:10', state: NUD_PERMANENT });
      await h!.neighAdd({ index: va, address: '10.1.0.11', mac: '02:00:00:00:00:11', state: NUD_NOARP });
      await h!.neighAdd({ index: va, address: '10.1.0.12', mac: '02:00:00:00:00:12', state: NUD_STALE });
      await h!.neighAdd({
        index: va,
        address: '2001:db8:1::10',
        mac: '02:00:00:00:01:10',
        state: NUD_PERMANENT,
      });
      await h!.neighAdd({
        index: va,
        address: '2001:db8:1::11',
        mac: '02:00:00:00:01:11',
        state: NUD_REACHABLE,
      });
      await h!.neighAdd({ index: va, address: '2001:db8:1::12', mac: '02:00:00:00:01:12', state: NUD_STALE });
      const all = await compareAll(a!.name, h!);
      assert.deepEqual(find(all, '10.1.0.10'), ['10.1.0.10', 'va', '02:00:00:00:00:10', 'PERMANENT']);
      assert.deepEqual(find(all, '10.1.0.11'), ['10.1.0.11', 'va', '02:00:00:00:00:11', 'NOARP']);
      assert.deepEqual(find(all, '10.1.0.12'), ['10.1.0.12', 'va', '02:00:00:00:00:12', 'STALE']);
      assert.deepEqual(find(all, '2001:db8:1::10'), [
        '2001:db8:1::10',
        'va',
        '02:00:00:00:01:10',
        'PERMANENT',
      ]);
      // REACHABLE ages into STALE after a while: accept either
      assert.ok(['REACHABLE', 'STALE', 'DELAY'].includes(find(all, '2001:db8:1::11')![3]));
      assert.deepEqual(find(all, '2001:db8:1::12'), ['2001:db8:1::12', 'va', '02:00:00:00:01:12', 'STALE']);
    }));

  test('neighList filters by family and interface', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va, vb } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.neighAdd({ index: va, address: '10.1.0.10', mac: '02:00:00:00:00:10', state: NUD_PERMANENT });
      await h!.neighAdd({ index: vb, address: '10.1.0.20', mac: '02:00:00:00:00:20', state: NUD_PERMANENT });
      await h!.neighAdd({
        index: va,
        address: '2001:db8:1::10',
        mac: '02:00:00:00:01:10',
        state: NUD_PERMANENT,
      });
      const v4 = await h!.neighList({ family: AF_INET });
      assert.deepEqual(v4.map((n) => n.address).sort(), ['10.1.0.10', '10.1.0.20']);
      const onVa = await h!.neighList({ index: va });
      assert.ok(onVa.every((n) => n.index === va));
      assert.ok(
        onVa.some((n) => n.address === '10.1.0.10') && onVa.some((n) => n.address === '2001:db8:1::10'),
      );
      const v6OnVa = await h!.neighList({ family: AF_INET6, index: va });
      assert.ok(v6OnVa.every((n) => n.family === AF_INET6 && n.index === va));
      assert.ok(v6OnVa.some((n) => n.address === '2001:db8:1::10'));
    }));

  test('neighReplace changes MAC and state in place; neighAdd of an existing entry is EEXIST', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.neighReplace({ index: va, address: '10.1.0.10', mac: '02:00:00:00:00:10', state: NUD_STALE });
      await h!.neighReplace({
        index: va,
        address: '10.1.0.10',
        mac: '02:00:00:00:00:aa',
        state: NUD_PERMANENT,
      });
      await h!.neighAdd({
        index: va,
        address: '2001:db8:1::10',
        mac: '02:00:00:00:01:10',
        state: NUD_PERMANENT,
      });
      await h!.neighReplace({
        index: va,
        address: '2001:db8:1::10',
        mac: '02:00:00:00:01:aa',
        state: NUD_NOARP,
      });
      const all = await compareAll(a!.name, h!);
      assert.deepEqual(find(all, '10.1.0.10'), ['10.1.0.10', 'va', '02:00:00:00:00:aa', 'PERMANENT']);
      assert.deepEqual(find(all, '2001:db8:1::10'), ['2001:db8:1::10', 'va', '02:00:00:00:01:aa', 'NOARP']);
      await assert.rejects(
        h!.neighAdd({ index: va, address: '10.1.0.10', mac: '02:00:00:00:00:10', state: NUD_PERMANENT }),
        (e: unknown) => e instanceof NetlinkError && e.errnoName === 'EEXIST',
      );
    }));

  test('neighDel removes v4 and v6 entries; a missing one is ENOENT', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.neighAdd({ index: va, address: '10.1.0.10', mac: '02:00:00:00:00:10', state: NUD_PERMANENT });
      await h!.neighAdd({ index: va, address: '10.1.0.11', mac: '02:00:00:00:00:11', state: NUD_PERMANENT });
      await h!.neighAdd({
        index: va,
        address: '2001:db8:1::10',
        mac: '02:00:00:00:01:10',
        state: NUD_PERMANENT,
      });
      await h!.neighDel({ index: va, address: '10.1.0.10' });
      await h!.neighDel({ index: va, address: '2001:db8:1::10' });
      const all = await compareAll(a!.name, h!);
      assert.equal(find(all, '10.1.0.10'), undefined);
      assert.equal(find(all, '2001:db8:1::10'), undefined);
      assert.ok(find(all, '10.1.0.11'));
      await assert.rejects(h!.neighDel({ index: va, address: '10.1.0.10' }), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.errnoName, 'ENOENT');
        return true;
      });
    }));
});
