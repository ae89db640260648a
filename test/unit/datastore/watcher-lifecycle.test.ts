import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constantBackoff, type Change, type ListResult } from '../../../src/datastore/index.js';
import type { ChangesRead } from '../../../src/datastore/sqlite/statements.js';
import { SqliteWatcher, type ChangeSource } from '../../../src/datastore/sqlite/watcher.js';
import { collector } from './collect.js';

/** A fake change source: a list of changes, a current read, and planned failures. */
function fakeSource() {
  const log: Change[] = [];
  let failNextPoll = 0;
  let failNextList = 0;
  let attached: SqliteWatcher | undefined;
  const source: ChangeSource = {
    list: (): ListResult => {
      if (failNextList > 0) {
        failNextList--;
        throw new Error('database is locked');
      }
      return {
        items: [{ key: '/f/a', value: 'fresh', modRevision: 9, createRevision: 9 }],
        revision: 9,
      };
    },
    changesAfter: (_prefix, after): ChangesRead => {
      if (failNextPoll > 0) {
        failNextPoll--;
        throw new Error('disk I/O error');
      }
      return { changes: log.filter((change) => change.revision > after), compacted: 0 };
    },
    attach: (watcher) => {
      attached = watcher;
    },
    detach: () => {
      attached = undefined;
    },
    forget: () => undefined,
  };
  return {
    source,
    log,
    failPolls: (n: number) => {
      failNextPoll = n;
    },
    failLists: (n: number) => {
      failNextList = n;
    },
    poll: () => attached?.poll(),
    isAttached: () => attached !== undefined,
  };
}

describe('watcher lifecycle', () => {
  test('read failure: lost, reconnect after the backoff, resync, in-sync again', async () => {
    const fake = fakeSource();
    const events = collector();
    const delays: number[] = [];
    const watcher = new SqliteWatcher(
      '/f/',
      {
        fromRevision: 1,
        onEvent: events.onEvent,
        backoff: (attempt) => {
          delays.push(attempt);
          return 5;
        },
      },
      fake.source,
    );
    await events.until(() => watcher.state === 'in-sync');
    fake.log.push({ type: 'put', key: '/f/a', value: '1', revision: 1 });
    fake.poll();
    assert.equal(events.changes().length, 1);

    fake.failPolls(3); // the poll fails, then the two reconnect attempts' first polls
    fake.poll();
    await events.until(
      () => watcher.state === 'in-sync' && events.events.some((event) => event.type === 'resync'),
      2000,
    );
    assert.deepEqual(events.states(), [
      'connecting',
      'in-sync',
      'lost',
      'connecting',
      'in-sync',
      'lost',
      'connecting',
      'in-sync',
      'lost',
      'connecting',
      'in-sync',
    ]);
    assert.deepEqual(delays, [0, 1, 2], 'backoff attempts grow while failing');
    const lost = events.events.find((event) => event.type === 'state' && event.state === 'lost');
    assert.ok(lost?.type === 'state' && lost.error?.message === 'disk I/O error');
    const resyncs = events.events.filter((event) => event.type === 'resync');
    assert.ok(resyncs.every((event) => event.type === 'resync' && event.reason === 'reconnected'));
    assert.equal(watcher.revision, 9);

    await watcher.close();
    await watcher.close();
    assert.equal(events.states().at(-1), 'closed');
    assert.equal(events.states().filter((state) => state === 'closed').length, 1);
    assert.ok(!fake.isAttached());
  });

  test('a store that fails its first reads: the read that comes is still the initial one', async () => {
    const fake = fakeSource();
    fake.failLists(2);
    const events = collector();
    const watcher = new SqliteWatcher(
      '/f/',
      { onEvent: events.onEvent, backoff: constantBackoff(5) },
      fake.source,
    );
    await events.until(() => watcher.state === 'in-sync', 2000);
    const resyncs = events.events.filter((event) => event.type === 'resync');
    assert.deepEqual(
      resyncs.map((event) => event.type === 'resync' && event.reason),
      ['initial'],
    );
    await watcher.close();
  });

  test('closing while lost cancels the reconnect', async () => {
    const fake = fakeSource();
    const events = collector();
    const watcher = new SqliteWatcher(
      '/f/',
      { fromRevision: 1, onEvent: events.onEvent, backoff: constantBackoff(60_000) },
      fake.source,
    );
    await events.until(() => watcher.state === 'in-sync');
    fake.failPolls(1);
    fake.poll();
    assert.equal(watcher.state, 'lost');
    await watcher.close(); // the 60 s timer must not keep the test alive
    assert.deepEqual(events.states(), ['connecting', 'in-sync', 'lost', 'closed']);
  });
});
