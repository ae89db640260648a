/**
 * Address operations of NetlinkHandle against `ip -json addr`, IPv4 and IPv6 (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF_INET,
  AF_INET6,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  NetlinkError,
  type Address,
} from '../../../src/netlink/index.js';
import { eventually, ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { SCOPES, nameOf, vethInside, withNetlink } from './fixtures.js';

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  broadcast?: string;
  scope: string;
  label?: string;
  nodad?: boolean;
  noprefixroute?: boolean;
  tentative?: boolean;
  dynamic?: boolean;
}

type Comparable = Record<string, string | number | boolean | undefined>;

function fromIp(info: IpAddrInfo): Comparable {
  return {
    family: info.family,
    local: info.local,
    prefixlen: info.prefixlen,
    broadcast: info.broadcast,
    scope: info.scope,
    label: info.label,
    nodad: info.nodad === true,
    noprefixroute: info.noprefixroute === true,
    tentative: info.tentative === true,
    dynamic: info.dynamic === true,
  };
}

function fromOurs(a: Address): Comparable {
  return {
    family: a.family === AF_INET6 ? 'inet6' : 'inet',
    local: a.address,
    prefixlen: a.prefixLength,
    broadcast: a.broadcast,
    scope: nameOf(SCOPES, a.scope),
    label: a.label,
    nodad: (a.flags & IFA_F_NODAD) !== 0,
    noprefixroute: (a.flags & IFA_F_NOPREFIXROUTE) !== 0,
    tentative: (a.flags & IFA_F_TENTATIVE) !== 0,
    dynamic: (a.flags & IFA_F_PERMANENT) === 0,
  };
}

const byLocal = (x: Comparable, y: Comparable): number => String(x.local).localeCompare(String(y.local));

/** ip's addresses of a link next to ours from addrList({index}). */
/** Retried until the two dumps agree: link-local IPv6 addresses appear and leave DAD meanwhile. */
function compare(
  ns: string,
  handle: { addrList: (f: { index: number }) => Promise<Address[]> },
  index: number,
  dev: string,
): Promise<Comparable[]> {
  return eventually(() => compareOnce(ns, handle, index, dev));
}

async function compareOnce(
  ns: string,
  handle: { addrList: (f: { index: number }) => Promise<Address[]> },
  index: number,
  dev: string,
): Promise<Comparable[]> {
  const [link] = ipJson<{ addr_info: IpAddrInfo[] }[]>(ns, ['addr', 'show', 'dev', dev]);
  const theirs = link!.addr_info.map(fromIp).sort(byLocal);
  const ours = (await handle.addrList({ index })).map(fromOurs).sort(byLocal);
  assert.deepEqual(ours, theirs);
  return ours;
}

describe('addresses', { skip: skipUnlessRoot() }, () => {
  test('addrAdd v4 (with broadcast and label) and v6 (IFA_F_NODAD), addrList matches ip', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name);
      await h!.addrAdd({ index: va, address: '10.1.0.1', prefixLength: 24, broadcast: '10.1.0.255' });
      await h!.addrAdd({ index: va, address: '10.1.0.2', prefixLength: 24, label: 'va:sec' });
      await h!.addrAdd({ index: va, address: '2001:db8:1::1', prefixLength: 64, flags: IFA_F_NODAD });
      await h!.addrAdd({ index: va, address: 'fd00:0:0:1:0:0:0:5', prefixLength: 128, flags: IFA_F_NODAD });
      const list = await compare(a!.name, h!, va, 'va');
      const v6 = list.find((x) => x.local === '2001:db8:1::1');
      assert.equal(v6?.nodad, true);
      assert.equal(v6?.tentative, false, 'NODAD: usable at once');
      assert.ok(
        list.some((x) => x.local === 'fd00:0:0:1::5'),
        'IPv6 in canonical form',
      );
      assert.equal(list.find((x) => x.local === '10.1.0.2')?.label, 'va:sec');
      assert.equal(list.find((x) => x.local === '10.1.0.1')?.broadcast, '10.1.0.255');
    }));

  test('addrList filters by family and interface', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va, vb } = vethInside(a!.name, { v4: '10.2.0.1/24', v6: '2001:db8:2::1/64' });
      await h!.addrAdd({ index: vb, address: '10.2.0.2', prefixLength: 24 });
      const v4 = await h!.addrList({ family: AF_INET });
      assert.deepEqual(v4.map((x) => x.address).sort(), ['10.2.0.1', '10.2.0.2']);
      const v6 = await h!.addrList({ family: AF_INET6, index: va });
      assert.ok(v6.every((x) => x.family === AF_INET6 && x.index === va));
      assert.ok(v6.some((x) => x.address === '2001:db8:2::1'));
      await compare(a!.name, h!, vb, 'vb');
    }));

  test('addrReplace creates, then updates in place; addrAdd of an existing address is EEXIST', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name);
      await h!.addrReplace({ index: va, address: '10.3.0.1', prefixLength: 24 });
      await h!.addrReplace({ index: va, address: '10.3.0.1', prefixLength: 24 });
      await assert.rejects(h!.addrAdd({ index: va, address: '10.3.0.1', prefixLength: 24 }), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.errnoName, 'EEXIST');
        assert.match(e.message, /10\.3\.0\.1\/24/);
        return true;
      });
      await h!.addrAdd({ index: va, address: '2001:db8:3::1', prefixLength: 64, flags: IFA_F_NODAD });
      // flags above 8 bits travel in IFA_FLAGS
      await h!.addrReplace({
        index: va,
        address: '2001:db8:3::1',
        prefixLength: 64,
        flags: IFA_F_NODAD | IFA_F_NOPREFIXROUTE,
      });
      const list = await compare(a!.name, h!, va, 'va');
      assert.equal(list.filter((x) => x.local === '10.3.0.1').length, 1);
      const v6 = list.find((x) => x.local === '2001:db8:3::1');
      assert.equal(v6?.noprefixroute, true);
    }));

  test('addrDel removes v4 and v6 addresses, and a missing one is an error', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.4.0.1/24', v6: '2001:db8:4::1/64' });
      // another subnet: deleting a primary address takes its secondaries with it
      await h!.addrAdd({ index: va, address: '10.4.1.2', prefixLength: 24 });
      await h!.addrDel({ index: va, address: '10.4.0.1', prefixLength: 24 });
      await h!.addrDel({ index: va, address: '2001:db8:4::1', prefixLength: 64 });
      const list = await compare(a!.name, h!, va, 'va');
      assert.deepEqual(
        list.filter((x) => x.scope === 'global').map((x) => x.local),
        ['10.4.1.2'],
      );
      await assert.rejects(h!.addrDel({ index: va, address: '10.4.0.1', prefixLength: 24 }), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.errnoName, 'EADDRNOTAVAIL');
        return true;
      });
    }));
});
