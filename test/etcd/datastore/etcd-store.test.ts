import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { ClosedError } from '../../../src/errors.js';
import { constantBackoff, EtcdStore, type WatchEvent } from '../../../src/datastore/index.js';
import { startEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { collector } from '../../unit/datastore/collect.js';

let cluster: EtcdCluster;
let store: EtcdStore;
before(async () => {
  cluster = await startEtcd(1);
  store = new EtcdStore({ endpoints: cluster.endpoints });
});
after(async () => {
  await store?.close();
  await cluster?.destroy();
});

const isResync = (event: WatchEvent) => event.type === 'resync';

describe('EtcdStore on a real etcd', () => {
  test('put/get/list/delete/deletePrefix with revisions', async () => {
    const r1 = await store.put('/t1/a', 'A');
    const r2 = await store.put('/t1/b', 'B');
    await store.put('/t1x', 'neighbour');
    assert.equal(r2, r1 + 1);
    assert.deepEqual(await store.get('/t1/a'), {
      key: '/t1/a',
      value: 'A',
      modRevision: r1,
      createRevision: r1,
    });
    // A change keeps the create revision; a deletion and a put give a new one.
    const r3 = await store.put('/t1/a', 'A2');
    assert.equal((await store.get('/t1/a'))?.createRevision, r1);
    assert.equal((await store.get('/t1/a'))?.modRevision, r3);
    assert.equal(await store.get('/t1/none'), undefined);
    const listed = await store.list('/t1/');
    assert.deepEqual(
      listed.items.map((item) => [item.key, item.value]),
      [
        ['/t1/a', 'A2'],
        ['/t1/b', 'B'],
      ],
    );
    assert.ok(listed.revision >= r2 + 1);
    assert.equal(await store.delete('/t1/a'), true);
    assert.equal(await store.delete('/t1/a'), false);
    await store.put('/t1/c', 'C');
    assert.equal(await store.deletePrefix('/t1/'), 2);
    assert.deepEqual((await store.list('/t1/')).items, []);
    assert.equal((await store.get('/t1x'))?.value, 'neighbour');
  });

  test('deleteMany: the existing keys, in transactions of at most 128; others untouched', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `/t9/${String(i).padStart(3, '0')}`);
    await store.putMany(keys.map((key) => ({ key, value: 'v' })));
    await store.put('/t9x', 'neighbour');
    assert.deepEqual(
      await store.deleteMany([...keys.slice(0, 200), '/t9/none', keys[0]!]),
      keys.slice(0, 200),
    );
    assert.equal((await store.list('/t9/')).items.length, 100);
    assert.deepEqual(await store.deleteMany([]), []);
    assert.equal((await store.deleteMany(keys)).length, 100);
    assert.equal((await store.get('/t9x'))?.value, 'neighbour');
  });

  test('write: puts and deletions in one transaction (one revision) when they fit, in 128s when not', async () => {
    await store.putMany([
      { key: '/t10/a', value: 'A' },
      { key: '/t10/b', value: 'B' },
    ]);
    const { revision, deleted } = await store.write({
      puts: [
        { key: '/t10/a', value: 'A2' },
        { key: '/t10/c', value: 'C' },
      ],
      deletes: ['/t10/b', '/t10/none'],
    });
    assert.deepEqual(deleted, ['/t10/b']);
    const listed = await store.list('/t10/');
    assert.deepEqual(
      listed.items.map((item) => [item.key, item.value, item.modRevision]),
      [
        ['/t10/a', 'A2', revision],
        ['/t10/c', 'C', revision],
      ],
    );
    // More than one transaction holds: the deletions still say which keys had a value.
    const keys = Array.from({ length: 200 }, (_, i) => `/t10/m${String(i).padStart(3, '0')}`);
    await store.putMany(keys.map((key) => ({ key, value: 'v' })));
    const big = await store.write({
      puts: keys.slice(0, 100).map((key) => ({ key, value: 'w' })),
      deletes: [...keys.slice(100), '/t10/none'],
    });
    assert.deepEqual(big.deleted, keys.slice(100));
    assert.equal((await store.list('/t10/m')).items.filter((item) => item.value === 'w').length, 100);
    await assert.rejects(
      store.write({ puts: [{ key: '/t10/d', value: 'D' }], deletes: ['/t10/d'] }),
      /twice/,
    );
  });

  test('putMany: 1000 keys, refused as one transaction by a default etcd, stored in transactions of 128', async () => {
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      key: `/t2/${String(i).padStart(4, '0')}`,
      value: `v${i}`,
    }));
    entries.push({ key: '/t2/0003', value: 'last' });
    const revision = await store.putMany(entries);
    const listed = await store.list('/t2/');
    assert.equal(listed.items.length, 1000);
    assert.equal(listed.revision, revision);
    assert.equal((await store.get('/t2/0003'))?.value, 'last');
    assert.equal(new Set(listed.items.map((item) => item.modRevision)).size, Math.ceil(1000 / 128));
    // Known refused now: the next such write is split at once, with the same outcome.
    await store.putMany(entries.map((entry) => ({ ...entry, value: 'again' })));
    const again = await store.list('/t2/');
    assert.ok(again.items.every((item) => item.value === 'again'));
    assert.equal(new Set(again.items.map((item) => item.modRevision)).size, Math.ceil(1000 / 128));
  });

  test('write: values too large for one request together are split, not refused', async () => {
    // 300 values of 10 KB: ~3 MB, more than etcd's --max-request-bytes (1.5 MiB) and gRPC's margin.
    const value = 'x'.repeat(10_000);
    const puts = Array.from({ length: 300 }, (_, i) => ({
      key: `/t11/${String(i).padStart(3, '0')}`,
      value,
    }));
    await store.write({ puts, deletes: [] });
    assert.equal((await store.list('/t11/')).items.length, 300);
    assert.equal(await store.deletePrefix('/t11/'), 300);
  });

  test('watch: initial resync, then changes in order, none lost', async () => {
    await store.put('/t3/before', 'x');
    const events = collector();
    const watcher = store.watch('/t3/', { onEvent: events.onEvent });
    try {
      await events.until(() => watcher.state === 'in-sync', 5000, 'in-sync');
      const resync = events.events.find(isResync);
      assert.ok(resync?.type === 'resync' && resync.reason === 'initial');
      assert.deepEqual(
        resync.items.map((item) => item.key),
        ['/t3/before'],
      );
      const writes: Promise<number>[] = [];
      for (let i = 0; i < 200; i++) writes.push(store.put(`/t3/k${i % 13}`, String(i)));
      await Promise.all(writes);
      await store.putMany(Array.from({ length: 300 }, (_, i) => ({ key: `/t3/m${i}`, value: 'm' })));
      await store.delete('/t3/before');
      await store.put('/t3x/outside', 'no');
      await events.until(() => events.changes().length === 501, 5000, '501 changes');
      const revisions = events.changes().map((change) => change.revision);
      assert.deepEqual(
        revisions,
        [...revisions].sort((a, b) => a - b),
      );
      assert.equal(events.changes().at(-1)?.type, 'delete');
      assert.ok(events.changes().every((change) => change.key.startsWith('/t3/')));
      assert.deepEqual(events.states(), ['connecting', 'in-sync']);
    } finally {
      await watcher.close();
    }
    assert.equal(events.states().at(-1), 'closed');
  });

  test('watch from a revision replays exactly from there', async () => {
    const first = await store.put('/t4/k', '1');
    await store.put('/t4/k', '2');
    await store.put('/t4/k', '3');
    const events = collector();
    const watcher = store.watch('/t4/', { fromRevision: first + 1, onEvent: events.onEvent });
    try {
      await events.until(() => events.changes().length === 2, 5000, '2 changes');
      assert.deepEqual(
        events.changes().map((change) => change.type === 'put' && change.value),
        ['2', '3'],
      );
      assert.ok(!events.events.some(isResync));
    } finally {
      await watcher.close();
    }
  });

  test('watch from a compacted revision resyncs with a fresh read', async () => {
    const first = await store.put('/t5/k', '1');
    await store.put('/t5/k', '2');
    const last = await store.put('/t5/other', 'o');
    const admin = new Etcd3({ hosts: cluster.endpoints });
    try {
      await admin.kv.compact({ revision: String(last), physical: true });
    } finally {
      admin.close();
    }
    const events = collector();
    const watcher = store.watch('/t5/', {
      fromRevision: first,
      backoff: constantBackoff(50),
      onEvent: events.onEvent,
    });
    try {
      await events.until((all) => all.some(isResync) && watcher.state === 'in-sync', 5000, 'resync');
      const resync = events.events.find(isResync);
      assert.ok(resync?.type === 'resync');
      assert.equal(resync.reason, 'compacted');
      assert.deepEqual(
        resync.items.map((item) => [item.key, item.value]),
        [
          ['/t5/k', '2'],
          ['/t5/other', 'o'],
        ],
      );
      await store.put('/t5/k', '3');
      await events.until(() => events.changes().length === 1, 5000, 'change after resync');
    } finally {
      await watcher.close();
    }
  });

  test('close is idempotent; later calls throw ClosedError', async () => {
    const own = new EtcdStore({ endpoints: cluster.endpoints });
    const watcher = own.watch('/t6/', { onEvent: () => undefined });
    const closing = own.close();
    assert.equal(own.close(), closing);
    await closing;
    assert.equal(watcher.state, 'closed');
    await assert.rejects(own.get('/t6/x'), ClosedError);
    assert.throws(() => own.watch('/t6/', { onEvent: () => undefined }), ClosedError);
  });
});

describe('EtcdStore on an etcd run with a higher --max-txn-ops', () => {
  let roomy: EtcdCluster;
  let roomyStore: EtcdStore;
  before(async () => {
    roomy = await startEtcd(1, ['--max-txn-ops', '5000']);
    roomyStore = new EtcdStore({ endpoints: roomy.endpoints });
  });
  after(async () => {
    await roomyStore?.close();
    await roomy?.destroy();
  });

  test('a write of 1000 puts and 200 deletions is one transaction: one revision', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `/t12/old${i}`);
    await roomyStore.putMany(keys.map((key) => ({ key, value: 'v' })));
    const puts = Array.from({ length: 1000 }, (_, i) => ({ key: `/t12/new${i}`, value: 'n' }));
    const { revision, deleted } = await roomyStore.write({ puts, deletes: keys });
    assert.equal(deleted.length, 200);
    const listed = await roomyStore.list('/t12/');
    assert.equal(listed.items.length, 1000);
    assert.deepEqual([...new Set(listed.items.map((item) => item.modRevision))], [revision]);
  });
});
