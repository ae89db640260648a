import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClosedError } from '../../../src/errors.js';
import {
  InvalidNamespaceNameError,
  NamespaceNotFoundError,
  NamespaceWatcher,
  NotANamespaceError,
  defaultNamespace,
  defaultNamespacePath,
  fileNamespace,
  namedNamespace,
  pidNamespace,
  refKey,
  type DirectoryWatch,
  type NamespaceWatcherOptions,
} from '../../../src/netns/index.js';
import { FakeFiles } from './fake-files.js';

type Event = [string, string, number | undefined, number | undefined];

/** A watcher over fake files whose events are recorded as [type, refKey, identity ino, previous ino]. */
function setup(options: NamespaceWatcherOptions = {}) {
  const files = new FakeFiles();
  let notify: ((name: string | undefined) => void) | undefined;
  let fail: (() => void) | undefined;
  let watching = 0;
  let watches = 0;
  const directoryWatch: DirectoryWatch = (_dir, onChange, onError) => {
    notify = onChange;
    fail = onError;
    watching++;
    watches++;
    return { close: () => void watching-- };
  };
  const watcher = new NamespaceWatcher({
    files,
    directoryWatch,
    intervalMs: 60_000,
    settleMs: 5,
    ...options,
  });
  const events: Event[] = [];
  watcher.on('available', (e) => events.push(['available', refKey(e.ref), e.identity.ino, undefined]));
  watcher.on('gone', (e) => events.push(['gone', refKey(e.ref), undefined, e.previous.ino]));
  watcher.on('replaced', (e) => events.push(['replaced', refKey(e.ref), e.identity.ino, e.previous.ino]));
  return {
    files,
    watcher,
    events,
    notify: (name?: string) => notify?.(name),
    watching: () => watching,
    /** The directory watch stops with an error (the fake closes it, as fs.watch's handler does). */
    failWatch: () => {
      watching--;
      fail?.();
    },
    watches: () => watches,
  };
}

describe('NamespaceWatcher (fake files)', () => {
  test('add() reports what is there at once, and emits available synchronously', () => {
    const { files, watcher, events } = setup();
    try {
      const ino = files.namespace('/var/run/netns/blue');
      const status = watcher.add(namedNamespace('blue'));
      assert.equal(status.identity?.ino, ino);
      assert.deepEqual(events, [['available', 'named:blue', ino, undefined]]);
      const missing = watcher.add(pidNamespace(123));
      assert.equal(missing.identity, undefined);
      assert.ok(missing.error instanceof NamespaceNotFoundError);
      assert.equal(events.length, 1);
      // Adding again changes nothing.
      assert.equal(watcher.add(namedNamespace('blue')).identity?.ino, ino);
      assert.equal(events.length, 1);
      assert.equal(watcher.size, 2);
    } finally {
      watcher.close();
    }
  });

  test('a directory watch that stops with an error is made again at the next check', () => {
    const { files, watcher, events, failWatch, watches, notify } = setup();
    try {
      watcher.add(namedNamespace('blue'));
      assert.equal(watches(), 1);
      failWatch();
      watcher.check();
      assert.equal(watches(), 2, 'watched again');
      const ino = files.namespace('/var/run/netns/blue');
      notify('blue');
      assert.deepEqual(events, [['available', 'named:blue', ino, undefined]]);
    } finally {
      watcher.close();
    }
  });

  test('gone, available again, replaced', () => {
    const { files, watcher, events } = setup();
    try {
      const first = files.namespace('/proc/50/ns/net');
      watcher.add(pidNamespace(50));
      files.entries.delete('/proc/50/ns/net');
      watcher.check();
      const second = files.namespace('/proc/50/ns/net');
      watcher.check();
      const third = files.namespace('/proc/50/ns/net');
      watcher.check();
      watcher.check();
      assert.deepEqual(events, [
        ['available', 'pid:50', first, undefined],
        ['gone', 'pid:50', undefined, first],
        ['available', 'pid:50', second, undefined],
        ['replaced', 'pid:50', third, second],
      ]);
    } finally {
      watcher.close();
    }
  });

  test('a pid whose process started at another time than an earlier run remembered is not available', () => {
    const { files, watcher, events } = setup({
      rememberedProcessStart: (pid) => (pid === 60 ? 1000 : undefined),
    });
    try {
      const ino = files.namespace('/proc/60/ns/net');
      files.processStarts.set(60, 2000); // the pid handed to another process meanwhile
      const status = watcher.add(pidNamespace(60));
      assert.equal(status.identity, undefined);
      assert.match(status.error?.message ?? '', /pid 60 is another process now/);
      files.namespace('/proc/61/ns/net', ino + 1);
      files.processStarts.set(61, 3000); // nothing remembered: the process seen first is the one
      assert.equal(watcher.add(pidNamespace(61)).processStarted, 3000);
      files.processStarts.set(60, 1000); // (a clock that says the same start: the same process)
      watcher.check();
      assert.deepEqual(events, [
        ['available', 'pid:61', ino + 1, undefined],
        ['available', 'pid:60', ino, undefined],
      ]);
      assert.equal(watcher.status(pidNamespace(60))?.processStarted, 1000);
    } finally {
      watcher.close();
    }
  });

  test('an unchanged namespace costs one stat per check', () => {
    const { files, watcher } = setup();
    try {
      for (let i = 0; i < 300; i++) {
        files.namespace(`/proc/${1000 + i}/ns/net`);
        watcher.add(pidNamespace(1000 + i));
      }
      const inspectsBefore = files.count('inspect');
      const statsBefore = files.count('stat');
      watcher.check();
      assert.equal(files.count('inspect'), inspectsBefore);
      assert.equal(files.count('stat'), statsBefore + 300);
    } finally {
      watcher.close();
    }
  });

  test('a reference still missing costs one stat per check and keeps its error', () => {
    const { files, watcher } = setup();
    try {
      const error = watcher.add(pidNamespace(77)).error;
      assert.ok(error instanceof NamespaceNotFoundError);
      const before = files.calls.length;
      watcher.check();
      assert.deepEqual(files.calls.slice(before), ['stat']);
      assert.equal(watcher.status(pidNamespace(77))?.error, error);
    } finally {
      watcher.close();
    }
  });

  test('a file that is not a namespace is unavailable, with the reason', () => {
    const { files, watcher, events } = setup();
    try {
      files.set('/etc/hostname', { kind: 'file' });
      const status = watcher.add(fileNamespace('/etc/hostname'));
      assert.equal(status.identity, undefined);
      assert.ok(status.error instanceof NotANamespaceError);
      assert.deepEqual(events, []);
    } finally {
      watcher.close();
    }
  });

  test('a directory event checks the named reference at once, and again shortly after', async () => {
    const { files, watcher, events, notify, watching } = setup();
    try {
      watcher.add(namedNamespace('red'));
      assert.equal(watching(), 1);
      files.set('/var/run/netns/red', { kind: 'file', fsMagic: 0x01021994 });
      notify('red');
      assert.deepEqual(events, []);
      // The mount arrives without an event; the settle check sees it.
      const ino = files.namespace('/var/run/netns/red');
      await sleep(30);
      assert.deepEqual(events, [['available', 'named:red', ino, undefined]]);
      files.entries.delete('/var/run/netns/red');
      notify(undefined);
      assert.deepEqual(events.at(-1), ['gone', 'named:red', undefined, ino]);
    } finally {
      watcher.close();
    }
    assert.equal(watching(), 0);
  });

  test('the periodic check finds changes on its own', async () => {
    const { files, watcher, events } = setup({ intervalMs: 10, directoryWatch: false });
    try {
      watcher.add(fileNamespace('/run/x'));
      const ino = files.namespace('/run/x');
      const deadline = Date.now() + 2000;
      while (events.length === 0 && Date.now() < deadline) await sleep(5);
      assert.deepEqual(events, [['available', 'file:/run/x', ino, undefined]]);
    } finally {
      watcher.close();
    }
  });

  test('set() watches exactly the given references, validating all first', () => {
    const { files, watcher } = setup();
    try {
      files.namespace(defaultNamespacePath(), 4026531833);
      watcher.set([defaultNamespace, pidNamespace(1), fileNamespace('/run/netns/blue')]);
      assert.equal(watcher.size, 3);
      assert.ok(watcher.status(fileNamespace('/run/netns/blue')));
      assert.equal(watcher.status(namedNamespace('blue')), undefined);
      assert.throws(() => watcher.set([pidNamespace(2), namedNamespace('a/b')]), InvalidNamespaceNameError);
      assert.equal(watcher.size, 3);
      watcher.set([namedNamespace('blue')]);
      assert.equal(watcher.size, 1);
      assert.equal(watcher.status(defaultNamespace), undefined);
      watcher.remove(namedNamespace('blue'));
      assert.equal(watcher.size, 0);
    } finally {
      watcher.close();
    }
  });

  test('a listener may remove references while events are being emitted', () => {
    const { files, watcher } = setup();
    try {
      files.namespace('/proc/1/ns/net');
      files.namespace('/proc/2/ns/net');
      watcher.add(pidNamespace(1));
      watcher.add(pidNamespace(2));
      const gone: string[] = [];
      watcher.on('gone', (e) => {
        gone.push(refKey(e.ref));
        watcher.remove(pidNamespace(1));
        watcher.remove(pidNamespace(2));
      });
      files.entries.clear();
      watcher.check();
      assert.equal(gone.length, 1);
      assert.equal(watcher.size, 0);
    } finally {
      watcher.close();
    }
  });

  test('invalid references throw; close is idempotent and final', () => {
    const { files, watcher, events } = setup();
    assert.throws(() => watcher.add(namedNamespace('..')), InvalidNamespaceNameError);
    assert.equal(watcher.size, 0);
    files.namespace('/proc/9/ns/net');
    watcher.close();
    watcher.close();
    assert.throws(() => watcher.add(pidNamespace(9)), ClosedError);
    watcher.check();
    assert.deepEqual(events, []);
  });
});
