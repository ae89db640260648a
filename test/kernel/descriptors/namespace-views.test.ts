import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fstatSync, statSync } from 'node:fs';
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

describe('namespace views', { skip: skipUnlessRoot() }, () => {
  test('netlink totals are counters: closing a view keeps what its socket counted', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const views = new NamespaceViews();
        try {
          const view = await views.open(locationOf(ns!));
          await view.handle.linkList();
          await view.handle.linkDel(999_999).catch(() => undefined); // refused: counted as an error
          const open = views.netlinkTotals();
          assert.ok(open.requests >= 2 && open.errors >= 1, JSON.stringify(open));
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
          const open = fstatSync(otherView.fileFd);
          assert.deepEqual([open.dev, open.ino], [file.dev, file.ino]);
          await hubView.handle.linkAddVeth({
            name: 'nvp0',
            peer: { name: 'nvp1', namespaceFd: otherView.fileFd },
          });
          const peer = execFileSync('ip', ['-n', other!.name, '-json', 'link', 'show', 'nvp1'], {
            encoding: 'utf8',
          });
          assert.equal((JSON.parse(peer) as { ifname: string }[])[0]?.ifname, 'nvp1');
          views.close(otherView.id);
          assert.throws(() => fstatSync(otherView.fileFd), /EBADF/);
        } finally {
          views.closeAll();
        }
      },
      'nvd',
    ));
});
