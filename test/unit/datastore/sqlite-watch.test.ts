import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteStore, type WatchEvent } from '../../../src/datastore/index.js';
import { collector } from './collect.js';

const root = mkdtempSync(join(tmpdir(), 'netns-agent-sqlite-watch-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
function storeFile(): string {
  return join(root, `s${++counter}.db`);
}
const storeModule = new URL('../../../src/datastore/index.js', import.meta.url).href;

/** Runs `body` in a child node process with `store` opened on `file`; resolves with its exit code. */
function child(file: string, body: string): Promise<number | null> {
  const script = `import { SqliteStore } from ${JSON.stringify(storeModule)};
const store = new SqliteStore({ file: ${JSON.stringify(file)} });
${body}
await store.close();`;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    proc.on('error', reject);
    proc.on('exit', (code) => resolve(code));
  });
}

const isResync = (event: WatchEvent) => event.type === 'resync';

describe('SqliteStore watch', () => {
  test('without fromRevision: initial resync, then every change in order', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      await store.put('/p/old', 'o');
      await store.put('/other', 'x');
      const events = collector();
      const watcher = store.watch('/p/', { onEvent: events.onEvent });
      assert.equal(watcher.state, 'idle');
      await events.until((all) => all.some(isResync), 2000, 'initial resync');
      const resync = events.events.find(isResync);
      assert.deepEqual(resync, {
        type: 'resync',
        reason: 'initial',
        items: [{ key: '/p/old', value: 'o', modRevision: 1, createRevision: 1 }],
        revision: 2,
      });
      for (let i = 0; i < 50; i++) await store.put(`/p/k${i % 7}`, String(i));
      await store.put('/other', 'y');
      await store.delete('/p/old');
      await events.until(() => events.changes().length === 51, 2000, '51 changes');
      const changes = events.changes();
      assert.deepEqual(
        changes.map((change) => change.revision),
        Array.from({ length: 51 }, (_, i) => (i < 50 ? i + 3 : 54)),
      );
      assert.deepEqual(changes[50], { type: 'delete', key: '/p/old', revision: 54 });
      assert.equal(watcher.state, 'in-sync');
      assert.equal(watcher.revision, 54);
      assert.deepEqual(events.states(), ['connecting', 'in-sync']);
      await watcher.close();
      assert.deepEqual(events.states(), ['connecting', 'in-sync', 'closed']);
    } finally {
      await store.close();
    }
  });

  test('fromRevision delivers exactly the changes from that revision', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      for (let i = 1; i <= 5; i++) await store.put('/p/k', String(i));
      const events = collector();
      const watcher = store.watch('/p/', { fromRevision: 3, onEvent: events.onEvent });
      await events.until(() => events.changes().length === 3, 2000, '3 changes');
      assert.deepEqual(
        events.changes().map((change) => change.type === 'put' && change.value),
        ['3', '4', '5'],
      );
      assert.ok(!events.events.some(isResync));
      await watcher.close();
    } finally {
      await store.close();
    }
  });

  test('putMany arrives as one event with one revision', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      const events = collector();
      const watcher = store.watch('/w/', { fromRevision: 1, onEvent: events.onEvent });
      await events.until(() => watcher.state === 'in-sync');
      await store.putMany(Array.from({ length: 4000 }, (_, i) => ({ key: `/w/${i}`, value: 'v' })));
      await events.until(() => events.changes().length === 4000, 3000, '4000 changes');
      const batches = events.events.filter((event) => event.type === 'changes');
      assert.equal(batches.length, 1);
      assert.ok(events.changes().every((change) => change.revision === 1));
      await watcher.close();
    } finally {
      await store.close();
    }
  });

  test('sees writes of another process on the same file, in order', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file, pollIntervalMs: 5 });
    try {
      const events = collector();
      const watcher = store.watch('/x/', { onEvent: events.onEvent });
      await events.until(() => watcher.state === 'in-sync');
      const code = await child(
        file,
        `for (let i = 0; i < 100; i++) await store.put('/x/k' + (i % 10), String(i));
         await store.putMany([{ key: '/x/a', value: 'A' }, { key: '/y/b', value: 'B' }]);
         await store.delete('/x/k0');`,
      );
      assert.equal(code, 0);
      await events.until(() => events.changes().length === 102, 3000, '102 changes');
      const changes = events.changes();
      const revisions = changes.map((change) => change.revision);
      assert.deepEqual(
        revisions,
        [...revisions].sort((a, b) => a - b),
      );
      assert.deepEqual(
        changes.slice(0, 100).map((change) => change.type === 'put' && change.value),
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
      assert.deepEqual(changes[100], { type: 'put', key: '/x/a', value: 'A', revision: 101 });
      assert.deepEqual(changes[101], { type: 'delete', key: '/x/k0', revision: 102 });
      await watcher.close();
    } finally {
      await store.close();
    }
  });

  test("another process's write is seen at once (inotify), not at the next poll", async () => {
    const file = storeFile();
    // A poll every minute: only the file watch can deliver the change in time.
    const store = new SqliteStore({ file, pollIntervalMs: 60_000 });
    try {
      const events = collector();
      const watcher = store.watch('/x/', { onEvent: events.onEvent });
      await events.until(() => watcher.state === 'in-sync');
      assert.equal(await child(file, `await store.put('/x/fast', 'v');`), 0);
      await events.until(() => events.changes().length === 1, 2000, 'the change');
      assert.deepEqual(events.changes()[0], { type: 'put', key: '/x/fast', value: 'v', revision: 1 });
      await watcher.close();
    } finally {
      await store.close();
    }
  });

  test('a value put while nobody runs is seen on the next start', async () => {
    const file = storeFile();
    assert.equal(await child(file, `await store.put('/p/offline', 'yes');`), 0);
    const store = new SqliteStore({ file });
    try {
      assert.deepEqual((await store.list('/p/')).items, [
        { key: '/p/offline', value: 'yes', modRevision: 1, createRevision: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  test('a watcher behind the compacted log resyncs with a full read', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file, retainRevisions: 5 });
    try {
      for (let i = 0; i < 20; i++) await store.put(`/c/k${i % 3}`, String(i));
      assert.equal(await store.compact(), 15);
      const events = collector();
      const watcher = store.watch('/c/', { fromRevision: 2, onEvent: events.onEvent });
      await events.until((all) => all.some(isResync), 2000, 'resync');
      const resync = events.events.find(isResync);
      assert.ok(resync?.type === 'resync');
      assert.equal(resync.reason, 'compacted');
      assert.equal(resync.revision, 20);
      assert.deepEqual(
        resync.items.map((item) => item.value),
        ['18', '19', '17'],
      );
      await store.put('/c/k0', 'after');
      await events.until(() => events.changes().length === 1);
      assert.deepEqual(events.changes()[0], { type: 'put', key: '/c/k0', value: 'after', revision: 21 });
      await watcher.close();
    } finally {
      await store.close();
    }
  });

  test('a listener that throws does not break the watcher', async () => {
    const store = new SqliteStore({ file: storeFile() });
    const reported: unknown[] = [];
    try {
      const events = collector();
      let thrown = false;
      const watcher = store.watch('/t/', {
        fromRevision: 1,
        onListenerError: (error) => reported.push(error),
        onEvent: (event) => {
          events.onEvent(event);
          if (event.type === 'changes' && !thrown) {
            thrown = true;
            throw new Error('consumer bug');
          }
        },
      });
      await store.put('/t/1', 'a');
      await events.until(() => events.changes().length === 1);
      await store.put('/t/2', 'b');
      await events.until(() => events.changes().length === 2);
      assert.equal(watcher.state, 'in-sync');
      await watcher.close();
    } finally {
      await store.close();
    }
    assert.equal(reported.length, 1);
  });
});
