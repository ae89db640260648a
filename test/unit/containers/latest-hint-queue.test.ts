import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestHintQueue } from '../../../src/containers/latest-hint-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('LatestHintQueue', () => {
  test('one worker per key; hints arriving meanwhile collapse to the latest', async () => {
    const gate = deferred();
    const log: string[] = [];
    const queue = new LatestHintQueue<string>(async (key, hint) => {
      log.push(`${key}:${hint}`);
      if (hint === 'first') await gate.promise;
    });
    const done = queue.schedule('a', 'first');
    void queue.schedule('a', 'second');
    void queue.schedule('a', 'third');
    void queue.schedule('b', 'other');
    gate.resolve();
    await done;
    assert.deepEqual(log, ['a:first', 'b:other', 'a:third']);
  });

  test('keepsPending protects a waiting hint', async () => {
    const gate = deferred();
    const log: string[] = [];
    const queue = new LatestHintQueue<string>(
      async (_key, hint) => {
        log.push(hint);
        if (hint === 'start') await gate.promise;
      },
      (_waiting, next) => next === 'list',
    );
    const done = queue.schedule('a', 'start');
    void queue.schedule('a', 'die');
    void queue.schedule('a', 'list');
    gate.resolve();
    await done;
    assert.deepEqual(log, ['start', 'die']);
  });

  test('a key can be scheduled again after its worker finished', async () => {
    const log: string[] = [];
    const queue = new LatestHintQueue<string>(async (_key, hint) => {
      log.push(hint);
    });
    await queue.schedule('a', '1');
    await queue.schedule('a', '2');
    assert.deepEqual(log, ['1', '2']);
  });

  test('stop drops waiting hints and waits for the running one', async () => {
    const gate = deferred();
    const log: string[] = [];
    const queue = new LatestHintQueue<string>(async (_key, hint) => {
      log.push(hint);
      await gate.promise;
    });
    void queue.schedule('a', '1');
    void queue.schedule('a', '2');
    const stopped = queue.stop();
    gate.resolve();
    await stopped;
    assert.deepEqual(log, ['1']);
  });
});
