/**
 * Link operations of NetlinkHandle against `ip -json link`, in throwaway namespaces (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkError } from '../../../src/netlink/index.js';
import {
  eventually,
  ip,
  ipJson,
  ipTry,
  kernelSupportsLinkKind,
  skipUnlessRoot,
} from '../../helpers/kernel.js';
import { assertSameLink, ipGroup, withNetlink, type IpLink } from './fixtures.js';

function ipLink(ns: string, name: string): IpLink | undefined {
  const result = ipTry(ns, ['-json', '-d', 'link', 'show', 'dev', name]);
  if (result.status !== 0) return undefined;
  return (JSON.parse(result.stdout) as IpLink[])[0];
}

function ipLinkOrFail(ns: string, name: string): IpLink {
  const link = ipLink(ns, name);
  assert.ok(link, `ip sees ${name} in ${ns}`);
  return link;
}

describe('links', { skip: skipUnlessRoot() }, () => {
  test('linkList and linkGet say what `ip -json -d link` says', () =>
    withNetlink(2, async ({ namespaces: [a, b], handles: [h] }) => {
      ip(a!.name, [
        'link',
        'add',
        'x0',
        'mtu',
        '1400',
        'group',
        '5',
        'type',
        'veth',
        'peer',
        'name',
        'x1',
        'mtu',
        '1300',
      ]);
      ip(a!.name, ['link', 'add', 'y0', 'type', 'veth', 'peer', 'name', 'y1', 'netns', b!.name]);
      ip(a!.name, [
        'link',
        'set',
        'x0',
        'alias',
        'an alias with spaces',
        'address',
        '02:00:00:00:aa:01',
        'up',
      ]);
      ip(a!.name, ['link', 'set', 'x1', 'up']);
      ip(a!.name, ['link', 'set', 'lo', 'up']);
      const theirs = ipJson<IpLink[]>(a!.name, ['-d', 'link', 'show']);
      const ours = await h!.linkList();
      assert.deepEqual(ours.map((l) => l.name).sort(), theirs.map((l) => l.ifname).sort());
      await eventually(async () => {
        const now = ipJson<IpLink[]>(a!.name, ['-d', 'link', 'show']);
        const list = await h!.linkList();
        for (const link of now)
          assertSameLink(
            list.find((l) => l.index === link.ifindex)!,
            link,
          );
      });
      for (const link of theirs) {
        const byName = await h!.linkGet(link.ifname);
        const byIndex = await h!.linkGet(link.ifindex);
        assert.ok(byName && byIndex);
        assert.equal(byName.index, link.ifindex);
        assert.equal(byIndex.name, link.ifname);
        assert.equal(byName.mtu, link.mtu);
        assert.equal(byName.kind, link.linkinfo?.info_kind);
      }
      // y0's peer is in b: IFLA_LINK_NETNSID is set, the peer index is b's
      const y0 = ours.find((l) => l.name === 'y0')!;
      assert.equal(y0.parentIndex, ipLinkOrFail(b!.name, 'y1').ifindex);
      assert.equal(typeof y0.linkNetnsId, 'number');
      assert.equal(await h!.linkGet('nosuchlink'), undefined);
      assert.equal(await h!.linkGet(999999), undefined);
    }));

  test('linkStatsList: the counters of every link, as `ip -s -json link` reports them', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      ip(a!.name, ['link', 'add', 's0', 'type', 'veth', 'peer', 'name', 's1']);
      ip(a!.name, ['link', 'set', 'lo', 'up']);
      // Traffic on lo only (the veth ends stay down, so nothing else moves a counter).
      ip(null, ['netns', 'exec', a!.name, 'ping', '-c', '3', '-i', '0.2', '-q', '127.0.0.1']);
      const reports = await h!.linkStatsList();
      type IpStats = {
        ifindex: number;
        ifname: string;
        stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
      };
      const links = ipJson<IpStats[]>(a!.name, ['-s', 'link', 'show']);
      assert.deepEqual(
        reports.map((r) => r.index).sort(),
        links.map((l) => l.ifindex).sort(),
        'one report per link',
      );
      assert.ok(links.find((l) => l.ifname === 'lo')!.stats64.rx.packets >= 6, 'pings counted on lo');
      for (const l of links) {
        const report = reports.find((r) => r.index === l.ifindex)!;
        assert.deepEqual(
          [report.stats.rxPackets, report.stats.rxBytes, report.stats.txPackets, report.stats.txBytes],
          [l.stats64.rx.packets, l.stats64.rx.bytes, l.stats64.tx.packets, l.stats64.tx.bytes],
          l.ifname,
        );
      }
    }));

  test('linkAddVeth: the peer is born in another namespace, with its MTU, MAC and name', () =>
    withNetlink(2, async ({ namespaces: [a, b], handles: [ha, hb] }) => {
      const created = (await ha!.linkAddVeth({
        name: 'va',
        mtu: 1400,
        mac: '02:00:00:00:0a:01',
        up: true,
        peer: { name: 'vb', mtu: 1450, mac: '02:00:00:00:0b:01', namespacePath: b!.path },
      }))!;
      const va = ipLinkOrFail(a!.name, 'va');
      const vb = ipLinkOrFail(b!.name, 'vb');
      assert.equal(ipLink(a!.name, 'vb'), undefined, 'the peer never appears in a');
      // The echoed link is the kernel's snapshot at creation: its oper state settles a moment later.
      assertSameLink(
        {
          ...created,
          operState: ipLinkOrFail(a!.name, 'va').operstate.toLowerCase() as typeof created.operState,
        },
        va,
      );
      assert.equal(va.mtu, 1400);
      assert.equal(va.address, '02:00:00:00:0a:01');
      assert.ok(va.flags.includes('UP'));
      assert.equal(va.linkinfo?.info_kind, 'veth');
      assert.equal(vb.mtu, 1450);
      assert.equal(vb.address, '02:00:00:00:0b:01');
      assert.ok(!vb.flags.includes('UP'));
      assert.equal(va.link_index, vb.ifindex);
      assert.equal(vb.link_index, va.ifindex);
      // bring the peer up through its own namespace's handle: both ends get carrier
      await hb!.linkSetUp(vb.ifindex);
      await eventually(() => {
        assert.ok(ipLinkOrFail(a!.name, 'va').flags.includes('LOWER_UP'));
        assert.ok(ipLinkOrFail(b!.name, 'vb').flags.includes('LOWER_UP'));
      });
      const seen = await hb!.linkGet('vb');
      assert.ok(seen?.up && seen.lowerUp);
    }));

  test('linkAddVeth from a third namespace puts both ends elsewhere', () =>
    withNetlink(3, async ({ namespaces: [a, b, c], handles: [, , hc] }) => {
      await hc!.linkAddVeth({
        name: 'p0',
        namespacePath: a!.path,
        peer: { name: 'p1', namespacePath: b!.path },
      });
      assert.ok(ipLink(a!.name, 'p0'));
      assert.ok(ipLink(b!.name, 'p1'));
      assert.equal(ipLink(c!.name, 'p0'), undefined);
      assert.equal(ipLink(c!.name, 'p1'), undefined);
    }));

  test('linkAddVeth with both ends in the handle namespace, asked ifindexes', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const link = (await h!.linkAddVeth({ name: 'i0', index: 4242, peer: { name: 'i1', index: 4243 } }))!;
      assert.equal(link.index, 4242);
      assert.equal(ipLinkOrFail(a!.name, 'i0').ifindex, 4242);
      assert.equal(ipLinkOrFail(a!.name, 'i1').ifindex, 4243);
    }));

  test('linkAddDummy (or the kernel error ip also gets when dummy is not built in)', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      if (kernelSupportsLinkKind('dummy')) {
        const link = (await h!.linkAddDummy({ name: 'd0', mtu: 1234, mac: '02:00:00:00:0d:01', up: true }))!;
        const theirs = ipLinkOrFail(a!.name, 'd0');
        assertSameLink(link, theirs);
        assert.equal(theirs.linkinfo?.info_kind, 'dummy');
        assert.equal(theirs.mtu, 1234);
        assert.ok(theirs.flags.includes('UP'));
      } else {
        const stderr = ipTry(a!.name, ['link', 'add', 'd0', 'type', 'dummy']).stderr;
        await assert.rejects(h!.linkAddDummy({ name: 'd0' }), (error: unknown) => {
          assert.ok(error instanceof NetlinkError);
          assert.equal(error.errnoName, 'EOPNOTSUPP');
          assert.ok(
            error.kernelMessage && stderr.includes(error.kernelMessage),
            `${stderr} / ${error.kernelMessage}`,
          );
          return true;
        });
      }
    }));

  test('linkAdd of another kind without data (bridge)', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const link = (await h!.linkAdd('bridge', { name: 'br0', mtu: 1400, group: 9 }))!;
      const theirs = ipLinkOrFail(a!.name, 'br0');
      assertSameLink(link, theirs);
      assert.equal(theirs.linkinfo?.info_kind, 'bridge');
      assert.equal(ipGroup(theirs.group), 9);
    }));

  test('linkSet: up, down, MTU, MAC, name, alias, group, several at once', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { index } = (await h!.linkAddVeth({ name: 's0', peer: { name: 's1' } }))!;
      const show = (): IpLink => ipLinkOrFail(a!.name, 'ren0') ?? ipLinkOrFail(a!.name, 's0');
      await h!.linkSetUp(index);
      assert.ok(ipLinkOrFail(a!.name, 's0').flags.includes('UP'));
      await h!.linkSetDown(index);
      assert.ok(!ipLinkOrFail(a!.name, 's0').flags.includes('UP'));
      await h!.linkSetMtu(index, 9000);
      assert.equal(ipLinkOrFail(a!.name, 's0').mtu, 9000);
      await h!.linkSetMac(index, '02:12:34:56:78:9A');
      assert.equal(ipLinkOrFail(a!.name, 's0').address, '02:12:34:56:78:9a');
      await h!.linkSetAlias(index, 'some alias');
      assert.equal(ipLinkOrFail(a!.name, 's0').ifalias, 'some alias');
      await h!.linkSetAlias(index, '');
      assert.equal(ipLinkOrFail(a!.name, 's0').ifalias, undefined);
      await h!.linkSetGroup(index, 77);
      assert.equal(ipLinkOrFail(a!.name, 's0').group, '77');
      await h!.linkSetName(index, 'ren0');
      assert.equal(ipLink(a!.name, 's0'), undefined);
      assert.equal(ipLinkOrFail(a!.name, 'ren0').ifindex, index, 'same link, same index');
      await h!.linkSet(index, { up: true, mtu: 1300, alias: 'x', group: 0 });
      const after = show();
      assert.ok(after.flags.includes('UP'));
      assert.equal(after.mtu, 1300);
      assert.equal(after.ifalias, 'x');
      assert.equal(after.group, 'default');
      assertSameLink((await h!.linkGet(index))!, ipLinkOrFail(a!.name, 'ren0'));
      // out of range MTU: the kernel's refusal, with its message
      await assert.rejects(h!.linkSetMtu(index, 10), (error: unknown) => {
        assert.ok(error instanceof NetlinkError);
        assert.equal(error.errnoName, 'EINVAL');
        assert.match(error.kernelMessage ?? '', /mtu/i);
        return true;
      });
    }));

  test('linkSetNamespace moves a link (optionally renamed); linkDel removes it with its peer', () =>
    withNetlink(2, async ({ namespaces: [a, b], handles: [ha, hb] }) => {
      const { index } = (await ha!.linkAddVeth({ name: 'm0', peer: { name: 'm1' } }))!;
      await ha!.linkSetNamespace(index, b!.path, 'moved0');
      assert.equal(ipLink(a!.name, 'm0'), undefined);
      const moved = ipLinkOrFail(b!.name, 'moved0');
      assert.equal((await hb!.linkGet('moved0'))?.index, moved.ifindex);
      assert.equal(ipLinkOrFail(a!.name, 'm1').link_netnsid !== undefined, true);
      await hb!.linkDel(moved.ifindex);
      assert.equal(ipLink(b!.name, 'moved0'), undefined);
      await eventually(() => assert.equal(ipLink(a!.name, 'm1'), undefined, 'the peer goes too'));
      const { errors, alreadyGone } = hb!.socket.counters;
      await assert.rejects(
        hb!.linkDel(moved.ifindex),
        (e: unknown) => e instanceof NetlinkError && e.errnoName === 'ENODEV',
      );
      // A deletion of what is gone is counted apart from the requests the kernel refused.
      assert.deepEqual(
        { errors: hb!.socket.counters.errors, alreadyGone: hb!.socket.counters.alreadyGone },
        { errors, alreadyGone: alreadyGone + 1 },
      );
      await assert.rejects(hb!.linkSetNamespace(moved.ifindex, a!.path), NetlinkError);
      assert.equal(hb!.socket.counters.errors, errors + 1, 'a refused change is an error');
    }));

  test('linkDelGroup deletes every link of a group at once, and only those', () =>
    withNetlink(2, async ({ namespaces: [a, b], handles: [ha] }) => {
      const creations = [];
      for (let i = 0; i < 40; i++) {
        creations.push(
          ha!.linkAddVeth({
            name: `g${i}`,
            group: i % 4 === 0 ? 0 : 42,
            peer: { name: `g${i}p`, namespacePath: b!.path },
          }),
        );
      }
      await Promise.all(creations);
      const before = ipJson<IpLink[]>(a!.name, ['link', 'show']);
      assert.equal(before.filter((l) => l.group === '42').length, 30);
      await ha!.linkDelGroup(42);
      const after = ipJson<IpLink[]>(a!.name, ['link', 'show']);
      assert.equal(after.filter((l) => l.group === '42').length, 0);
      assert.deepEqual(
        after
          .map((l) => l.ifname)
          .filter((n) => n.startsWith('g'))
          .sort(),
        Array.from({ length: 10 }, (_, i) => `g${i * 4}`).sort(),
      );
      await eventually(() => assert.equal(ipJson<IpLink[]>(b!.name, ['link', 'show']).length, 1 + 10));
      // nothing left in the group: the kernel says so
      await assert.rejects(ha!.linkDelGroup(42), NetlinkError);
    }));
});
