import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NamespaceViews } from '../../../src/descriptors/namespace-views.js';
import { namespaceIdentity } from '../../../src/netns/index.js';
import {
  installNetlinkFaults,
  NetlinkFaultInjector,
  parseFaultSpec,
} from '../../../src/netlink/fault-injection.js';
import { skipUnlessRoot, withNamespaces } from '../../helpers/kernel.js';

/** A test namespace as the views open it. */
function locationOf(ns: { name: string; path: string }): Parameters<NamespaceViews['open']>[0] {
  return {
    id: `named/${ns.name}`,
    description: `named namespace ${ns.name}`,
    path: ns.path,
    identity: namespaceIdentity(ns.path)!,
  };
}

/** Names of the links called `name` in a named namespace, as `ip` sees them. */
function hostLinkNames(namespace: string, name: string): string[] {
  const out = execFileSync('ip', ['-n', namespace, '-json', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n === name);
}

describe('namespace views', { skip: skipUnlessRoot() }, () => {
  test('netlink totals are counters: closing a view keeps what its socket counted', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const views = new NamespaceViews();
        try {
          const view = await views.open(locationOf(ns!));
          await view.handle.linkList();
          await view.handle.linkDel(999_999).catch(() => undefined); // nothing there: counted apart
          await view.handle.linkSet(999_999, { mtu: 1400 }).catch(() => undefined); // refused: an error
          const open = views.netlinkTotals();
          assert.ok(open.requests >= 3 && open.errors >= 1 && open.alreadyGone >= 1, JSON.stringify(open));
          views.close(view.id);
          assert.deepEqual(views.netlinkTotals(), open);
        } finally {
          views.closeAll();
        }
      },
      'nvw',
    ));

  test('a view whose event socket the kernel gave no filter says so, and works on', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const views = new NamespaceViews();
        const degraded: string[] = [];
        views.on('degraded', (view, reason) => degraded.push(`${view.id}: ${reason}`));
        installNetlinkFaults(new NetlinkFaultInjector(parseFaultSpec('events-filter=refuse')));
        try {
          const view = await views.open(locationOf(ns!));
          assert.deepEqual(degraded, [
            `named/${ns!.name}: the kernel refused the event socket's filter: EINVAL (fault injected)`,
          ]);
          assert.ok(view.links.get('lo'), 'its links are known');
        } finally {
          installNetlinkFaults(undefined);
          views.closeAll();
        }
      },
      'nvf',
    ));

  test("a view keeps its namespace's file open, gives VETH peers through it, and closes it with itself", () =>
    withNamespaces(
      2,
      async ([hub, other]) => {
        const views = new NamespaceViews();
        try {
          const hubView = await views.open(locationOf(hub!));
          const otherView = await views.open(locationOf(other!));
          const file = statSync(other!.path);
          let lent = -1;
          await otherView.file.use((fd) => {
            lent = fd;
            const open = fstatSync(fd);
            assert.deepEqual([open.dev, open.ino], [file.dev, file.ino]);
            return hubView.handle.linkAddVeth({ name: 'nvp0', peer: { name: 'nvp1', namespaceFd: fd } });
          });
          assert.deepEqual(hostLinkNames(other!.name, 'nvp1'), ['nvp1']);
          views.close(otherView.id);
          assert.throws(() => fstatSync(lent), /EBADF/);
          await assert.rejects(
            otherView.file.use(() => Promise.resolve()),
            (error: Error & { code?: string }) => error.code === 'ERR_NAMESPACE_NOT_FOUND',
          );
        } finally {
          views.closeAll();
        }
      },
      'nvd',
    ));

  test("a view closed while a VETH peer is on its way there: the peer still lands in that view's namespace", () =>
    withNamespaces(
      3,
      async ([hub, other, third]) => {
        const views = new NamespaceViews();
        let thirdFd: number | undefined;
        try {
          const hubView = await views.open(locationOf(hub!));
          const otherView = await views.open(locationOf(other!));
          // Queued, not yet sent, when the view closes; the number, if closed then, would be the
          // next one open(2) hands out: the third namespace's file, opened right after.
          const adding = otherView.file.use((fd) =>
            hubView.handle.linkAddVeth({ name: 'nvq0', peer: { name: 'nvq1', namespaceFd: fd } }),
          );
          views.close(otherView.id);
          thirdFd = openSync(third!.path, 'r');
          await adding;
          assert.deepEqual(hostLinkNames(other!.name, 'nvq1'), ['nvq1']);
          assert.deepEqual(hostLinkNames(third!.name, 'nvq1'), []);
        } finally {
          if (thirdFd !== undefined) closeSync(thirdFd);
          views.closeAll();
        }
      },
      'nvr',
    ));

  test('closing times are kept for the newest closed named namespaces only, not one per name for ever', () =>
    withNamespaces(
      4,
      async (namespaces) => {
        // A new named namespace per workload, used, then let go: before, each name closed stayed.
        const views = new NamespaceViews(2);
        try {
          for (const ns of namespaces) views.close((await views.open(locationOf(ns))).id);
          assert.equal(views.closedRemembered(), 2);
          const ids = namespaces.map((ns) => `named/${ns.name}`);
          assert.deepEqual(
            ids.map((id) => views.closedSince(id) !== undefined),
            [false, false, true, true],
          );
          // Opened again: no closing time (it has a view); closed again: the newest.
          views.close((await views.open(locationOf(namespaces[0]!))).id);
          assert.equal(views.closedRemembered(), 2);
          assert.deepEqual(
            ids.map((id) => views.closedSince(id) !== undefined),
            [true, false, false, true],
          );
        } finally {
          views.closeAll();
        }
      },
      'skv',
    ));
});
