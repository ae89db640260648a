/**
 * Named namespaces made by us and by iproute2, each seeing the other's (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  NamespaceExistsError,
  createNamed,
  createNamedPrepared,
  deleteNamed,
  fileNamespace,
  listNamed,
  namedNamespace,
  resolve,
  sameNamespace,
} from '../../../src/netns/index.js';
import { ip, ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { NetlinkHandle } from '../../../src/netlink/index.js';
import { Scratch, ipNetnsList } from './fixtures.js';

describe('named namespaces against iproute2', { skip: skipUnlessRoot() }, () => {
  test('ours: ip netns list and ip netns exec see it; delete is idempotent', () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      const created = createNamed(name);
      assert.equal(created.created, true);
      assert.equal(created.path, `/var/run/netns/${name}`);
      assert.ok(ipNetnsList().includes(name));
      const links = ipJson<{ ifname: string }[]>(null, ['netns', 'exec', name, 'ip', '-json', 'link']);
      assert.deepEqual(
        links.map((l) => l.ifname),
        ['lo'],
      );
      // A link made inside through ip shows in the same namespace: it really is one namespace.
      ip(name, ['link', 'add', 'ntv0', 'type', 'veth', 'peer', 'name', 'ntv1']);
      assert.equal(
        ipJson<{ ifname: string }[]>(null, ['netns', 'exec', name, 'ip', '-json', 'link']).length,
        3,
      );

      const again = createNamed(name);
      assert.equal(again.created, false);
      assert.ok(sameNamespace(again.identity, created.identity));
      assert.ok(listNamed().some((n) => n.name === name && sameNamespace(n.identity, created.identity)));
      // /run/netns is the same place.
      assert.ok(sameNamespace(resolve(fileNamespace(`/run/netns/${name}`)).identity, created.identity));

      assert.equal(deleteNamed(name), true);
      assert.ok(!ipNetnsList().includes(name));
      assert.ok(!existsSync(`/var/run/netns/${name}`));
      assert.equal(deleteNamed(name), false);
      assert.ok(!listNamed().some((n) => n.name === name));
    } finally {
      scratch.cleanup();
    }
  });

  test('prepared: what prepare sets in the fresh namespace is there when it gets its name; a failed prepare leaves nothing', async () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      let seenWhilePreparing: boolean | undefined;
      const made = await createNamedPrepared(name, async (namespacePath) => {
        seenWhilePreparing = existsSync(`/var/run/netns/${name}`);
        const handle = new NetlinkHandle({ namespacePath });
        try {
          await handle.linkSetAlias(1, 'prepared');
        } finally {
          handle.close();
        }
      });
      assert.equal(made.created, true);
      assert.equal(seenWhilePreparing, false, 'not named while being prepared');
      const lo = ipJson<{ ifname: string; ifalias?: string }[]>(name, ['link', 'show', 'lo'])[0];
      assert.equal(lo?.ifalias, 'prepared');
      const again = await createNamedPrepared(name, () => Promise.reject(new Error('not called')));
      assert.equal(again.created, false);
      assert.ok(sameNamespace(again.identity, made.identity));

      const failing = scratch.name();
      await assert.rejects(
        createNamedPrepared(failing, () => Promise.reject(new Error('mark refused'))),
        /mark refused/,
      );
      assert.ok(!existsSync(`/var/run/netns/${failing}`), 'no namespace, no file');
      assert.ok(!ipNetnsList().includes(failing));
    } finally {
      scratch.cleanup();
    }
  });

  test('theirs: we list, resolve and delete what ip netns add made', () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      ip(null, ['netns', 'add', name]);
      const listed = listNamed().find((n) => n.name === name);
      assert.ok(listed);
      assert.ok(sameNamespace(resolve(namedNamespace(name)).identity, listed.identity));
      assert.equal(createNamed(name).created, false);
      assert.equal(deleteNamed(name), true);
      assert.ok(!ipNetnsList().includes(name));
    } finally {
      scratch.cleanup();
    }
  });

  test('re-created under the same name: a new identity', async () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      const first = createNamed(name);
      // Keep the first namespace alive (a process in it), so the kernel cannot reuse its inode.
      await scratch.sleeperIn(name);
      deleteNamed(name);
      const second = createNamed(name);
      assert.equal(second.created, true);
      assert.ok(!sameNamespace(first.identity, second.identity));
    } finally {
      scratch.cleanup();
    }
  });

  test('a file in /var/run/netns without a namespace on it: NamespaceExistsError, left alone', async () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      const { writeFileSync } = await import('node:fs');
      writeFileSync(`/var/run/netns/${name}`, '');
      assert.throws(() => createNamed(name), NamespaceExistsError);
      assert.ok(existsSync(`/var/run/netns/${name}`));
      assert.ok(!listNamed().some((n) => n.name === name));
      assert.equal(deleteNamed(name), true);
      assert.ok(!existsSync(`/var/run/netns/${name}`));
    } finally {
      scratch.cleanup();
    }
  });
});
