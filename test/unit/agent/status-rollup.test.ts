import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rollUp } from '../../../src/agent/status-rollup.js';
import type { ItemStatus } from '../../../src/scheduler/index.js';

const item = (state: ItemStatus['state'], extra: Partial<ItemStatus> = {}): ItemStatus => ({
  key: 'k',
  descriptor: 'd',
  origin: 'config',
  state,
  updatedAt: 10,
  ...extra,
});

describe('status roll-up of an item and its addresses', () => {
  test('configured with configured (or not yet planned) addresses stays as it is', () => {
    const s = item('configured');
    assert.equal(
      rollUp(s, [
        { label: 'address a', status: item('configured') },
        { label: 'b', status: undefined },
      ]),
      s,
    );
  });

  test('a failed address makes the item failed, naming the address, with its retries', () => {
    const failed = item('failed', {
      error: { message: 'EBUSY', retriable: true },
      retries: 2,
      nextRetryAt: 99,
      updatedAt: 20,
    });
    const r = rollUp(item('configured'), [
      { label: 'address 10.0.0.1/24', status: item('pending', { reason: 'x' }) },
      { label: 'address 10.0.0.2/24', status: failed },
    ]);
    assert.equal(r.state, 'failed');
    assert.equal(r.error?.message, 'address 10.0.0.2/24: EBUSY');
    assert.equal(r.error?.retriable, true);
    assert.equal(r.retries, 2);
    assert.equal(r.nextRetryAt, 99);
    assert.equal(r.updatedAt, 20);
    assert.equal(r.key, 'k');
  });

  test('a pending address makes the item pending with the reason', () => {
    const r = rollUp(item('configured'), [
      { label: 'address 10.0.0.1/24', status: item('pending', { reason: 'claimed by other' }) },
    ]);
    assert.equal(r.state, 'pending');
    assert.equal(r.reason, 'address 10.0.0.1/24: claimed by other');
  });

  test('an item that is not configured is shown as it is', () => {
    const s = item('pending', { reason: 'waiting' });
    assert.equal(rollUp(s, [{ label: 'a', status: item('failed') }]), s);
  });
});
