/**
 * NamespaceWatcher on a real kernel: namespaces made, deleted and re-made out of band with iproute2,
 * processes started and killed, each noticed within a second (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NamespaceWatcher,
  NotANamespaceError,
  fileNamespace,
  namedNamespace,
  pidNamespace,
  resolve,
  sameNamespace,
  type NamespaceIdentity,
  type NamespaceRef,
  type NamespaceWatcherOptions,
} from '../../../src/netns/index.js';
import { ip, skipUnlessRoot } from '../../helpers/kernel.js';
import { Scratch, exited } from './fixtures.js';

interface Seen {
  type: 'available' | 'gone' | 'replaced';
  identity: NamespaceIdentity | undefined;
  at: number;
}

/** A watcher recording the events of one reference. */
function watching(ref: NamespaceRef, options: NamespaceWatcherOptions = {}) {
  const watcher = new NamespaceWatcher(options);
  const seen: Seen[] = [];
  watcher.on('available', (e) => seen.push({ type: 'available', identity: e.identity, at: Date.now() }));
  watcher.on('gone', () => seen.push({ type: 'gone', identity: undefined, at: Date.now() }));
  watcher.on('replaced', (e) => seen.push({ type: 'replaced', identity: e.identity, at: Date.now() }));
  watcher.add(ref);
  /** Waits (at most 1 s) for an event after index `from`; returns it and how long it took from `since`. */
  async function next(from: number, since: number): Promise<Seen & { delay: number }> {
    const deadline = since + 1000;
    while (seen.length <= from && Date.now() < deadline) await sleep(5);
    const event = seen[from];
    assert.ok(event, `no event #${from} within 1 s; seen ${JSON.stringify(seen)}`);
    return { ...event, delay: event.at - since };
  }
  return { watcher, seen, next };
}

async function lifecycleOfNamed(options: NamespaceWatcherOptions): Promise<void> {
  const scratch = new Scratch();
  const name = scratch.name();
  const { watcher, seen, next } = watching(namedNamespace(name), options);
  try {
    assert.equal(seen.length, 0);
    let since = Date.now();
    ip(null, ['netns', 'add', name]);
    const added = await next(0, since);
    assert.equal(added.type, 'available');
    assert.ok(sameNamespace(added.identity, resolve(namedNamespace(name)).identity));

    // Hold the namespace with a process, so that the one made next cannot get its inode.
    await scratch.sleeperIn(name);
    since = Date.now();
    ip(null, ['netns', 'del', name]);
    assert.equal((await next(1, since)).type, 'gone');
    assert.equal(watcher.status(namedNamespace(name))?.identity, undefined);

    since = Date.now();
    ip(null, ['netns', 'add', name]);
    const back = await next(2, since);
    assert.equal(back.type, 'available');
    assert.ok(!sameNamespace(back.identity, added.identity));

    // Deleted and made again at once: replaced, or gone then available; either way the new one.
    await scratch.sleeperIn(name);
    since = Date.now();
    ip(null, ['netns', 'del', name]);
    ip(null, ['netns', 'add', name]);
    const fresh = resolve(namedNamespace(name)).identity;
    const event = await next(3, since);
    if (event.type === 'gone') assert.equal((await next(4, since)).type, 'available');
    else assert.equal(event.type, 'replaced');
    assert.ok(sameNamespace(seen.at(-1)?.identity, fresh));
    assert.ok(sameNamespace(watcher.status(namedNamespace(name))?.identity, fresh));
  } finally {
    watcher.close();
    scratch.cleanup();
  }
}

describe('NamespaceWatcher on a real kernel', { skip: skipUnlessRoot() }, () => {
  test('named: made, deleted, re-made out of band by ip netns (directory events)', () =>
    lifecycleOfNamed({}));

  test('named: the same with periodic checks only', () =>
    lifecycleOfNamed({ directoryWatch: false, intervalMs: 250 }));

  test('pid and task file references: available with the named identity, gone when the process dies', async () => {
    const scratch = new Scratch();
    const watcher = new NamespaceWatcher({ intervalMs: 250 });
    try {
      const name = scratch.name();
      ip(null, ['netns', 'add', name]);
      const named = resolve(namedNamespace(name)).identity;
      const { child, pid } = await scratch.sleeperIn(name);
      const refs = [pidNamespace(pid), fileNamespace(`/proc/${pid}/task/${pid}/ns/net`)];
      const available: NamespaceIdentity[] = [];
      const gone: number[] = [];
      watcher.on('available', (e) => available.push(e.identity));
      watcher.on('gone', () => gone.push(Date.now()));
      for (const ref of refs) assert.ok(sameNamespace(watcher.add(ref).identity, named));
      assert.equal(available.length, 2);
      assert.ok(available.every((identity) => sameNamespace(identity, named)));

      const since = Date.now();
      child.kill('SIGKILL');
      await exited(child);
      while (gone.length < 2 && Date.now() < since + 1000) await sleep(5);
      assert.equal(gone.length, 2, 'both references gone within 1 s');
      assert.ok(Math.max(...gone) - since < 1000);
      // The named namespace is still there: only the process went.
      assert.ok(sameNamespace(resolve(namedNamespace(name)).identity, named));
    } finally {
      watcher.close();
      scratch.cleanup();
    }
  });

  test('a file that is not a namespace stays unavailable, with the reason', () => {
    const watcher = new NamespaceWatcher();
    try {
      const status = watcher.add(fileNamespace('/etc/hostname'));
      assert.equal(status.identity, undefined);
      assert.ok(status.error instanceof NotANamespaceError);
    } finally {
      watcher.close();
    }
  });

  test('hundreds of references are cheap to check', async (t) => {
    const scratch = new Scratch();
    const watcher = new NamespaceWatcher();
    const sleepers = Array.from({ length: 25 }, () => spawn('sleep', ['30'], { stdio: 'ignore' }));
    try {
      const present = [scratch.name(), scratch.name()];
      for (const name of present) ip(null, ['netns', 'add', name]);
      for (const name of present) assert.ok(watcher.add(namedNamespace(name)).identity);
      // Pending references: named namespaces not made yet, processes that do not exist.
      for (let i = 0; i < 300; i++) watcher.add(namedNamespace(`${present[0] ?? ''}m${i}`));
      for (let i = 0; i < 200; i++) watcher.add(pidNamespace(4_000_000 + i));
      // Available ones: processes of ours, by pid and by task file.
      for (let i = 0; i < 50; i++) {
        const pid = sleepers[i % sleepers.length]?.pid ?? process.pid;
        watcher.add(
          i < sleepers.length ? pidNamespace(pid) : fileNamespace(`/proc/${pid}/task/${pid}/ns/net`),
        );
      }
      assert.equal(watcher.size, 552);
      // Against a baseline measured alongside, not a time (a busy machine slows both): one stat()
      // of a file like each reference's. A check that read more per reference (a process's whole
      // /proc entry, a spawned tool) would cost many times that.
      const paths = [
        ...Array.from({ length: 302 }, (_, i) => `/run/netns/${present[0] ?? ''}x${i}`),
        ...Array.from({ length: 200 }, (_, i) => `/proc/${4_000_000 + i}/ns/net`),
        ...Array.from(
          { length: 50 },
          (_, i) => `/proc/${sleepers[i % sleepers.length]?.pid ?? process.pid}/ns/net`,
        ),
      ];
      const bestOf = (run: () => void): number => {
        let best = Infinity;
        for (let round = 0; round < 7; round++) {
          const started = process.hrtime.bigint();
          run();
          best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
        }
        return best;
      };
      const statMs = bestOf(() => {
        for (const file of paths) statSync(file, { throwIfNoEntry: false });
      });
      const checkMs = bestOf(() => watcher.check());
      t.diagnostic(
        `one check of ${watcher.size} references: ${checkMs.toFixed(2)} ms; as many stat(): ${statMs.toFixed(2)} ms`,
      );
      assert.ok(
        checkMs < statMs * 15,
        `one check of ${watcher.size} references took ${checkMs.toFixed(2)} ms, as many stat() ${statMs.toFixed(2)} ms`,
      );
    } finally {
      watcher.close();
      scratch.cleanup();
      for (const child of sleepers) child.kill('SIGKILL');
      await Promise.all(sleepers.map(exited));
    }
  });
});
