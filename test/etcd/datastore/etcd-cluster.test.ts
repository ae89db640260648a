import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { constantBackoff, EtcdStore } from '../../../src/datastore/index.js';
import { startEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { collector } from '../../unit/datastore/collect.js';
import { foldEvents } from './fold.js';

let cluster: EtcdCluster;
before(async () => {
  cluster = await startEtcd(3);
});
after(async () => {
  await cluster?.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('3-member etcd cluster', () => {
  test('one member killed (each in turn): operations and the watch carry on', async (t) => {
    // A call may wait for a new leader (election timeout 1-2 s): a generous deadline, no retry.
    const store = new EtcdStore({ endpoints: cluster.endpoints, callTimeoutMs: 10_000 });
    t.after(() => store.close());
    const events = collector();
    const watcher = store.watch('/c/', { backoff: constantBackoff(100), onEvent: events.onEvent });
    t.after(() => watcher.close());
    await events.until(() => watcher.state === 'in-sync', 5000, 'in-sync');

    let written = 0;
    let slowest = 0;
    const expected = new Map<string, string>();
    const write = async (label: string) => {
      const key = `/c/${label}/${written % 20}`;
      const value = String(written++);
      const started = Date.now();
      await store.put(key, value);
      slowest = Math.max(slowest, Date.now() - started);
      expected.set(key, value);
      assert.equal((await store.get(key))?.value, value);
    };

    for (let round = 0; round < 3; round++) {
      const member = cluster.member(round);
      await member.stop('SIGKILL');
      // Keep writing and reading while the member is gone: every call must succeed.
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        await write(`r${round}`);
        await sleep(20);
      }
      assert.equal((await store.list('/c/')).items.length, expected.size);
      await events.until(
        () => String([...foldEvents(events.events)]) === String([...new Map([...expected].sort())]),
        10_000,
        `watch converged in round ${round}`,
      );
      member.start();
      await cluster.waitHealthy();
    }
    t.diagnostic(`${written} writes (slowest ${slowest} ms), watcher states: ${events.states().join(' ')}`);
    assert.equal(watcher.state, 'in-sync');
  });

  test('quorum lost: a watch on the remaining member is lost (not in-sync), then back with the cluster', async (t) => {
    const store = new EtcdStore({ endpoints: [cluster.member(0).clientUrl], callTimeoutMs: 3000 });
    t.after(() => store.close());
    const events = collector();
    const watcher = store.watch('/q/', { backoff: constantBackoff(200), onEvent: events.onEvent });
    t.after(() => watcher.close());
    await events.until(() => watcher.state === 'in-sync', 5000, 'in-sync');
    await store.put('/q/a', '1');
    const stopped = Date.now();
    try {
      await cluster.member(1).stop('SIGKILL');
      await cluster.member(2).stop('SIGKILL');
      // The member left has no leader: etcd cancels the watch ("require leader"); it stayed open.
      await events.until(() => watcher.state !== 'in-sync', 20_000, 'watch lost');
      t.diagnostic(`lost ${Date.now() - stopped} ms after quorum went`);
      await assert.rejects(store.put('/q/b', '2')); // (no leader: waits for one, then its deadline)
    } finally {
      cluster.member(1).start();
      cluster.member(2).start();
      await cluster.waitHealthy();
    }
    // The members may still be electing a leader: a put is tried until one is there.
    for (let attempt = 0; ; attempt++) {
      try {
        await store.put('/q/c', '3');
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await sleep(200);
      }
    }
    await events.until(
      () => watcher.state === 'in-sync' && foldEvents(events.events).get('/q/c') === '3',
      20_000,
      'back in sync',
    );
  });
});
