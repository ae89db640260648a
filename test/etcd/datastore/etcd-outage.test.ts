import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  constantBackoff,
  DatastoreUnavailableError,
  EtcdStore,
  type WatchEvent,
} from '../../../src/datastore/index.js';
import { startEtcd, TcpProxy, type EtcdCluster } from '../../helpers/etcd.js';
import { collector } from '../../unit/datastore/collect.js';
import { foldEvents } from './fold.js';

let cluster: EtcdCluster;
before(async () => {
  cluster = await startEtcd(1);
});
after(async () => {
  await cluster?.destroy();
});

const resyncsAfter = (events: WatchEvent[], index: number) =>
  events.slice(index).filter((event) => event.type === 'resync');

describe('etcd outages', () => {
  test('connection lost: the watcher goes lost, reconnects and resyncs with the changes made meanwhile', async (t) => {
    const proxy = await TcpProxy.start(cluster.member(0).clientUrl);
    const watched = new EtcdStore({ endpoints: [proxy.url], callTimeoutMs: 1000 });
    const writer = new EtcdStore({ endpoints: cluster.endpoints });
    t.after(async () => {
      await watched.close();
      await writer.close();
      await proxy.close();
    });
    await writer.putMany([
      { key: '/o1/gone', value: 'g' },
      { key: '/o1/changed', value: 'before' },
      { key: '/o1/same', value: 's' },
    ]);
    const events = collector();
    const watcher = watched.watch('/o1/', { backoff: constantBackoff(200), onEvent: events.onEvent });
    await events.until(() => watcher.state === 'in-sync', 5000, 'in-sync');

    proxy.cut();
    await events.until(() => watcher.state === 'lost', 5000, 'lost');
    const lostAt = events.events.length;
    await assert.rejects(watched.get('/o1/same'), (error: unknown) => {
      assert.ok(error instanceof DatastoreUnavailableError, String(error));
      assert.equal(error.retriable, true);
      return true;
    });
    await writer.delete('/o1/gone');
    await writer.put('/o1/changed', 'after');
    await writer.put('/o1/new', 'n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.notEqual(watcher.state, 'in-sync', 'cannot reconnect while cut');

    proxy.restore();
    await events.until(
      () => watcher.state === 'in-sync' && resyncsAfter(events.events, lostAt).length > 0,
      15_000,
      'resync',
    );
    const [resync] = resyncsAfter(events.events, lostAt);
    assert.ok(resync?.type === 'resync');
    assert.equal(resync.reason, 'reconnected');
    assert.deepEqual(
      resync.items.map((item) => [item.key, item.value]),
      [
        ['/o1/changed', 'after'],
        ['/o1/new', 'n'],
        ['/o1/same', 's'],
      ],
    );
    await writer.put('/o1/later', 'l');
    await events.until(() => foldEvents(events.events).has('/o1/later'), 5000, 'change after resync');
    assert.deepEqual(events.states().slice(-3), ['lost', 'connecting', 'in-sync'].slice(-3));
  });

  test('etcd stopped for a few seconds and restarted: the watcher reconnects and converges', async (t) => {
    const member = cluster.member(0);
    const watched = new EtcdStore({ endpoints: cluster.endpoints, callTimeoutMs: 1000 });
    t.after(() => watched.close());
    await watched.putMany([
      { key: '/o2/gone', value: 'g' },
      { key: '/o2/changed', value: 'before' },
    ]);
    const events = collector();
    const watcher = watched.watch('/o2/', { backoff: constantBackoff(300), onEvent: events.onEvent });
    await events.until(() => watcher.state === 'in-sync', 5000, 'in-sync');

    await member.stop('SIGTERM');
    await events.until(() => watcher.state === 'lost', 5000, 'lost');
    const lostAt = events.events.length;
    await assert.rejects(watched.put('/o2/x', 'y'), DatastoreUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 3000));

    member.start();
    await cluster.waitHealthy();
    const restartedAt = Date.now();
    // Changes made as soon as etcd is back, by someone else (another agent's netnsctl, say).
    // The expected contents are read through this fresh client too: the watched client's own
    // connection may still sit in gRPC's reconnect backoff (up to 2 s) and fail a unary call.
    const writer = new EtcdStore({ endpoints: cluster.endpoints });
    let expected: Map<string, string>;
    try {
      await writer.delete('/o2/gone');
      await writer.put('/o2/changed', 'after');
      await writer.put('/o2/new', 'n');
      expected = new Map((await writer.list('/o2/')).items.map((item) => [item.key, item.value]));
    } finally {
      await writer.close();
    }
    await events.until(
      () => watcher.state === 'in-sync' && resyncsAfter(events.events, lostAt).length > 0,
      15_000,
      'resync after restart',
    );
    await events.until(
      () => String([...foldEvents(events.events)]) === String([...expected].sort()),
      5000,
      'converged',
    );
    const [resync] = resyncsAfter(events.events, lostAt);
    assert.ok(resync?.type === 'resync' && resync.reason === 'reconnected');
    t.diagnostic(`watcher in sync ${Date.now() - restartedAt} ms after etcd was healthy again`);
    assert.ok(
      !events.events.slice(lostAt).some((event) => event.type === 'state' && event.state === 'closed'),
    );
  });
});
