/**
 * resolve() on a real kernel: every way of naming one namespace gives one identity, and files that
 * are not network namespaces are refused (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../../../src/native/binding.js';
import {
  NamespaceNotFoundError,
  NotANamespaceError,
  createNamed,
  defaultNamespace,
  fileNamespace,
  namedNamespace,
  pidNamespace,
  resolve,
  sameNamespace,
} from '../../../src/netns/index.js';
import { skipUnlessRoot } from '../../helpers/kernel.js';
import { Scratch, exited, ipNetnsIdentify } from './fixtures.js';

describe('resolve on a real kernel', { skip: skipUnlessRoot() }, () => {
  test('the default namespace: main thread, own pid, /proc/self and the native view agree', () => {
    const def = resolve(defaultNamespace);
    assert.equal(def.path, `/proc/${process.pid}/task/${process.pid}/ns/net`);
    assert.ok(sameNamespace(def.identity, native().currentNamespace()));
    assert.ok(sameNamespace(def.identity, resolve(pidNamespace(process.pid)).identity));
    assert.ok(sameNamespace(def.identity, resolve(fileNamespace('/proc/self/ns/net')).identity));
  });

  test('a process in ip netns exec: pid, task and named references are one namespace', async () => {
    const scratch = new Scratch();
    try {
      const name = scratch.name();
      const named = createNamed(name);
      const { child, pid } = await scratch.sleeperIn(name);
      assert.deepEqual(ipNetnsIdentify(pid), [name]);
      const byPid = resolve(pidNamespace(pid));
      assert.equal(byPid.path, `/proc/${pid}/ns/net`);
      assert.ok(sameNamespace(byPid.identity, named.identity));
      assert.ok(
        sameNamespace(resolve(fileNamespace(`/proc/${pid}/task/${pid}/ns/net`)).identity, named.identity),
      );
      assert.ok(!sameNamespace(byPid.identity, resolve(defaultNamespace).identity));

      child.kill('SIGKILL');
      await exited(child);
      await new Promise((r) => setTimeout(r, 20));
      assert.throws(() => resolve(pidNamespace(pid)), NamespaceNotFoundError);
      // The named namespace outlives the process.
      assert.ok(sameNamespace(resolve(namedNamespace(name)).identity, named.identity));
    } finally {
      scratch.cleanup();
    }
  });

  test('files that are not network namespaces are refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nt-'));
    try {
      const regular = path.join(dir, 'regular');
      writeFileSync(regular, 'x');
      const link = path.join(dir, 'link');
      symlinkSync(regular, link);
      const fifo = path.join(dir, 'fifo');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const refused = [
        '/etc/hostname',
        '/proc/self/status',
        dir,
        link,
        fifo, // opening it would block: stat refuses it first
        '/dev/null',
        '/proc/self/ns/mnt',
        '/proc/self/ns/uts',
        fileURLToPath(import.meta.url),
      ];
      for (const file of refused) {
        assert.throws(
          () => resolve(fileNamespace(file)),
          (error: unknown) => error instanceof NotANamespaceError && error.path === file && !error.retriable,
          file,
        );
      }
      assert.throws(() => resolve(fileNamespace(path.join(dir, 'missing'))), NamespaceNotFoundError);
      assert.throws(() => resolve(fileNamespace(path.join(regular, 'below'))), NamespaceNotFoundError);
      // A symbolic link to a namespace file is a namespace reference like any other.
      const nsLink = path.join(dir, 'ns-link');
      symlinkSync('/proc/self/ns/net', nsLink);
      assert.ok(sameNamespace(resolve(fileNamespace(nsLink)).identity, resolve(defaultNamespace).identity));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("another user's process: NamespacePermissionError", async () => {
    // A child running as nobody tries the namespace of a process of ours (root's).
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const here = path.dirname(fileURLToPath(import.meta.url));
    const indexUrl = new URL(`file://${path.resolve(here, '../../../src/netns/index.js')}`).href;
    const script = `import(${JSON.stringify(indexUrl)}).then((m) => {
      try { m.resolve(m.pidNamespace(${sleeper.pid})); console.log('resolved'); }
      catch (e) { console.log(e.code); }
    });`;
    try {
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      });
      assert.equal(run.stdout.trim(), 'ERR_NAMESPACE_PERMISSION', run.stderr);
      // As root, the same reference resolves.
      assert.ok(
        sameNamespace(resolve(pidNamespace(sleeper.pid ?? 0)).identity, resolve(defaultNamespace).identity),
      );
    } finally {
      sleeper.kill('SIGKILL');
      await exited(sleeper);
    }
  });
});
