/** The delays of IPv6 addresses that failed duplicate address detection before they are added again. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuplicateAddresses } from '../../../src/descriptors/duplicate-addresses.js';

test('duplicate addresses: the delay doubles at each failure in a row, up to the most, and starts afresh once forgotten', () => {
  const book = new DuplicateAddresses(1000, 5000);
  try {
    assert.deepEqual(
      [1, 2, 3, 4].map(() => book.failed('k')),
      [1000, 2000, 4000, 5000],
    );
    assert.equal(book.failed('other'), 1000, 'per key');
    assert.ok(book.has('k'));
    book.forget('k');
    assert.ok(!book.has('k'));
    assert.equal(book.failed('k'), 1000);
  } finally {
    book.close();
  }
});

test('duplicate addresses: the item is due once its delay ended; not after close()', async () => {
  const due: string[] = [];
  const book = new DuplicateAddresses(10, 100);
  book.onDue = (key) => due.push(key);
  book.failed('a');
  book.failed('b');
  book.forget('b');
  await sleep(50);
  assert.deepEqual(due, ['a']);
  book.failed('a');
  book.close();
  book.close();
  await sleep(50);
  assert.deepEqual(due, ['a'], 'closed: nothing more is due');
  book.failed('a');
  await sleep(30);
  assert.deepEqual(due, ['a'], 'nor scheduled');
});
