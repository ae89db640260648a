import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClosedError } from '../../../src/errors.js';
import { InvalidKeyError, SqliteStore } from '../../../src/datastore/index.js';
import { Checkpointer } from '../../../src/datastore/sqlite/checkpointer.js';
import { collector } from './collect.js';

const root = mkdtempSync(join(tmpdir(), 'netns-agent-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
function storeFile(): string {
  return join(root, `s${++counter}`, 'store.db');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SqliteStore', () => {
  test("a write waiting for another process's lock does not hold the event loop, and gives up after busyTimeoutMs", async () => {
    const file = storeFile();
    const store = new SqliteStore({ file, busyTimeoutMs: 20_000 });
    const impatient = new SqliteStore({ file, busyTimeoutMs: 1000 });
    const other = new Database(file);
    try {
      await store.put('/p/a', 'A1');
      other.exec('BEGIN IMMEDIATE');
      // Timers keep running while the write waits (it used to wait inside SQLite, blocking them
      // until the lock was free or the busy timeout over): ten of them, the write still waiting.
      // Counted, not timed: a busy machine only makes it take longer.
      let settled = false;
      const put = store.put('/p/a', 'A2').finally(() => (settled = true));
      let ticks = 0;
      while (ticks < 10) {
        await sleep(5);
        ticks++;
      }
      assert.equal(settled, false, 'the write still waits for the lock');
      other.exec('ROLLBACK');
      assert.equal(await put, 2);
      assert.equal((await store.get('/p/a'))?.value, 'A2');
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      await assert.rejects(impatient.put('/p/a', 'A3'), (error: Error) => {
        assert.equal((error as { code?: string }).code, 'ERR_DATASTORE_UNAVAILABLE');
        return true;
      });
      assert.ok(Date.now() - started >= 900, 'waited for busyTimeoutMs');
      other.exec('ROLLBACK');
    } finally {
      other.close();
      await store.close();
      await impatient.close();
    }
  });

  test('put/get/list/delete with revisions', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      assert.deepEqual(await store.list('/p/'), { items: [], revision: 0 });
      assert.equal(await store.put('/p/a', 'A1'), 1);
      assert.equal(await store.put('/p/b', 'B1'), 2);
      assert.equal(await store.put('/q/c', 'C1'), 3);
      assert.equal(await store.put('/p/a', 'A2'), 4);
      assert.deepEqual(await store.get('/p/a'), {
        key: '/p/a',
        value: 'A2',
        modRevision: 4,
        createRevision: 1,
      });
      assert.equal(await store.get('/p/missing'), undefined);
      assert.deepEqual(await store.list('/p/'), {
        items: [
          { key: '/p/a', value: 'A2', modRevision: 4, createRevision: 1 },
          { key: '/p/b', value: 'B1', modRevision: 2, createRevision: 2 },
        ],
        revision: 4,
      });
      assert.equal((await store.list('')).items.length, 3);
      assert.equal(await store.delete('/p/missing'), false);
      assert.equal(await store.revision(), 4, 'deleting nothing makes no revision');
      assert.equal(await store.delete('/p/b'), true);
      assert.equal(await store.revision(), 5);
      assert.deepEqual(
        (await store.list('/p/')).items.map((item) => item.key),
        ['/p/a'],
      );
      // Deleted and put again: created anew.
      assert.equal(await store.put('/p/b', 'B2'), 6);
      assert.equal((await store.get('/p/b'))?.createRevision, 6);
    } finally {
      await store.close();
    }
  });

  test('a store of schema 1 gains create revisions (each key taken as created when last written)', async () => {
    const file = storeFile();
    mkdirSync(dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, mod_revision INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE changes (revision INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (revision, key)) WITHOUT ROWID;
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta (name, value) VALUES ('revision', 3), ('compacted', 0);
      INSERT INTO kv (key, value, mod_revision) VALUES ('/m/a', 'A', 3);
      PRAGMA user_version = 1;
    `);
    old.close();
    const store = new SqliteStore({ file });
    try {
      assert.deepEqual(await store.get('/m/a'), {
        key: '/m/a',
        value: 'A',
        modRevision: 3,
        createRevision: 3,
      });
      await store.put('/m/a', 'A2');
      assert.deepEqual(await store.get('/m/a'), {
        key: '/m/a',
        value: 'A2',
        modRevision: 4,
        createRevision: 3,
      });
    } finally {
      await store.close();
    }
  });

  test('prefix ranges do not leak into neighbours', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      await store.putMany([
        { key: '/a/x', value: '1' },
        { key: '/a0', value: '2' },
        { key: '/a', value: '3' },
        { key: '/a/\u{10FFFF}', value: '4' },
        { key: '/b', value: '5' },
      ]);
      assert.deepEqual(
        (await store.list('/a/')).items.map((item) => item.key),
        ['/a/x', '/a/\u{10FFFF}'],
      );
      assert.equal(await store.deletePrefix('/a/'), 2);
      assert.deepEqual(
        (await store.list('')).items.map((item) => item.key),
        ['/a', '/a0', '/b'],
      );
      assert.equal(await store.deletePrefix('/nothing/'), 0);
    } finally {
      await store.close();
    }
  });

  test('putMany: 4000 keys in one transaction and one revision, last duplicate wins', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      const entries = Array.from({ length: 4000 }, (_, i) => ({ key: `/w1/item/${i}`, value: `{"i":${i}}` }));
      entries.push({ key: '/w1/item/7', value: 'last' });
      const started = performance.now();
      const revision = await store.putMany(entries);
      const elapsed = performance.now() - started;
      assert.equal(revision, 1);
      const { items } = await store.list('/w1/');
      assert.equal(items.length, 4000);
      assert.ok(items.every((item) => item.modRevision === 1));
      assert.equal((await store.get('/w1/item/7'))?.value, 'last');
      assert.ok(elapsed < 2000, `putMany of 4000 took ${elapsed} ms`);
    } finally {
      await store.close();
    }
  });

  test('write: puts and deletions in one revision, seen by a watcher as one change; a key twice writes nothing', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      await store.putMany([
        { key: '/wr/a', value: 'A' },
        { key: '/wr/b', value: 'B' },
      ]);
      const events = collector();
      const watcher = store.watch('/wr/', { fromRevision: 2, onEvent: events.onEvent });
      const { revision, deleted } = await store.write({
        puts: [
          { key: '/wr/a', value: 'A2' },
          { key: '/wr/c', value: 'C' },
        ],
        deletes: ['/wr/b', '/wr/none'],
      });
      assert.equal(revision, 2);
      assert.deepEqual(deleted, ['/wr/b']);
      await events.until((all) => all.some((e) => e.type === 'changes'), 5000, 'the change');
      const changes = events.events.filter((e) => e.type === 'changes');
      assert.equal(changes.length, 1, 'one event');
      assert.deepEqual(
        events
          .changes()
          .map((c) => [c.type, c.key, c.revision])
          .sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
        [
          ['put', '/wr/a', 2],
          ['delete', '/wr/b', 2],
          ['put', '/wr/c', 2],
        ],
      );
      await watcher.close();
      // Nothing there to change: the current revision, no new one.
      assert.deepEqual(await store.write({ puts: [], deletes: ['/wr/none'] }), { revision: 2, deleted: [] });
      await assert.rejects(
        store.write({ puts: [{ key: '/wr/d', value: 'D' }], deletes: ['/wr/d'] }),
        (error: Error) => error.message.includes('/wr/d appears twice in one write'),
      );
      assert.equal(await store.get('/wr/d'), undefined);
      assert.equal((await store.list('/wr/')).revision, 2);
    } finally {
      await store.close();
    }
  });

  test('putMany without waiting for the disk: same revisions and values, durable writes after it', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file });
    try {
      const r1 = await store.putMany([{ key: '/s/a', value: '1' }], { durable: false });
      const r2 = await store.put('/s/b', '2');
      assert.equal(r2, r1 + 1);
      assert.equal((await store.get('/s/a'))?.value, '1');
      assert.deepEqual(
        (await store.list('/s/')).items.map((kv) => kv.key),
        ['/s/a', '/s/b'],
      );
    } finally {
      await store.close();
    }
    const again = new SqliteStore({ file });
    try {
      assert.equal((await again.get('/s/a'))?.value, '1');
    } finally {
      await again.close();
    }
  });

  test('background checkpoints: the WAL is copied into the file by the worker, not by commits', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file, backgroundCheckpoints: true });
    try {
      const before = statSync(file).size;
      // ~100 pages: far below the 1000 pages at which a commit would checkpoint by itself.
      await store.putMany(
        Array.from({ length: 200 }, (_, i) => ({ key: `/ckpt/${i}`, value: 'x'.repeat(1000) })),
        { durable: false },
      );
      const deadline = Date.now() + 5000;
      // Until it holds them all: a checkpoint seen midway (the file grown by part of them) is not a failure.
      while (statSync(file).size <= before + 150_000 && Date.now() < deadline) await sleep(20);
      assert.ok(statSync(file).size > before + 150_000, 'the database file holds the rows');
      assert.equal((await store.get('/ckpt/199'))?.value, 'x'.repeat(1000));
    } finally {
      await store.close();
      await store.close();
    }
    const reopened = new SqliteStore({ file });
    try {
      assert.equal((await reopened.list('/ckpt/')).items.length, 200);
    } finally {
      await reopened.close();
    }
  });

  test('background checkpoints: the worker starts with the first write, not for a reader', async () => {
    const file = storeFile();
    const writer = new SqliteStore({ file });
    await writer.put('/ckpt/a', '1');
    await writer.close();
    const store = new SqliteStore({ file, backgroundCheckpoints: true });
    try {
      assert.equal((await store.get('/ckpt/a'))?.value, '1');
      assert.equal((await store.list('/ckpt/')).items.length, 1);
      assert.equal(store.checkpointing, false, 'reads start no worker');
      await store.put('/ckpt/b', '2');
      assert.equal(store.checkpointing, true, 'the first write starts it');
    } finally {
      await store.close();
    }
  });

  test('a checkpointer whose worker could not open the file still closes (no hang)', async () => {
    const checkpointer = new Checkpointer(join(root, 'no-such-dir', 'store.db'));
    await sleep(200); // the worker has failed by now
    await checkpointer.close();
    await checkpointer.close();
  });

  test('without background checkpoints, a small write stays in the WAL', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file });
    try {
      const before = statSync(file).size;
      await store.putMany(
        Array.from({ length: 200 }, (_, i) => ({ key: `/ckpt/${i}`, value: 'x'.repeat(1000) })),
      );
      await sleep(300);
      assert.equal(statSync(file).size, before);
    } finally {
      await store.close();
    }
  });

  test('deleteMany: the existing keys in one revision, durable or not; nothing to delete, no revision', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      await store.putMany(Array.from({ length: 10 }, (_, i) => ({ key: `/d/${i}`, value: 'v' })));
      const before = await store.revision();
      assert.deepEqual(await store.deleteMany(['/d/1', '/d/2', '/d/none', '/d/1']), ['/d/1', '/d/2']);
      assert.equal(await store.revision(), before + 1);
      assert.deepEqual(await store.deleteMany(['/d/3', '/d/4'], { durable: false }), ['/d/3', '/d/4']);
      assert.equal(await store.revision(), before + 2);
      assert.deepEqual(await store.deleteMany(['/d/none']), []);
      assert.deepEqual(await store.deleteMany([]), []);
      assert.equal(await store.revision(), before + 2);
      assert.deepEqual(
        (await store.list('/d/')).items.map((item) => item.key),
        ['/d/0', '/d/5', '/d/6', '/d/7', '/d/8', '/d/9'],
      );
      await assert.rejects(store.deleteMany(['/d/0', '']), InvalidKeyError);
      assert.equal((await store.get('/d/0'))?.value, 'v', 'a refused batch deletes nothing');
    } finally {
      await store.close();
    }
  });

  test('values survive a reopen; revisions continue', async () => {
    const file = storeFile();
    const first = new SqliteStore({ file });
    await first.put('/k', 'v');
    await first.close();
    const second = new SqliteStore({ file });
    try {
      assert.deepEqual(await second.get('/k'), { key: '/k', value: 'v', modRevision: 1, createRevision: 1 });
      assert.equal(await second.put('/k2', 'v2'), 2);
    } finally {
      await second.close();
    }
  });

  test('new directory is 0700 and the file 0600', async () => {
    const file = storeFile();
    const store = new SqliteStore({ file });
    try {
      assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await store.close();
    }
  });

  test('invalid keys are refused', async () => {
    const store = new SqliteStore({ file: storeFile() });
    try {
      await assert.rejects(store.put('', 'x'), InvalidKeyError);
      await assert.rejects(store.get(''), InvalidKeyError);
      await assert.rejects(
        store.putMany([
          { key: '/ok', value: 'x' },
          { key: '', value: 'y' },
        ]),
        InvalidKeyError,
      );
      assert.equal(await store.get('/ok'), undefined, 'a refused batch writes nothing');
    } finally {
      await store.close();
    }
  });

  test('close is idempotent and later calls throw ClosedError', async () => {
    const store = new SqliteStore({ file: storeFile() });
    const watcher = store.watch('/', { onEvent: () => undefined });
    const first = store.close();
    const second = store.close();
    assert.equal(first, second);
    await first;
    await store.close();
    assert.equal(watcher.state, 'closed');
    await assert.rejects(store.get('/x'), ClosedError);
    await assert.rejects(store.put('/x', 'y'), ClosedError);
    assert.throws(() => store.watch('/', { onEvent: () => undefined }), ClosedError);
  });
});
