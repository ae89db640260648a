import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keptNamespaceWaits, rollUp } from '../../../src/agent/status-rollup.js';
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
  test('configured with configured addresses stays as it is', () => {
    const s = item('configured');
    assert.equal(rollUp(s, [{ label: 'address a', status: item('configured') }]), s);
  });

  test('an address without a status yet (created next in the same transaction) is being added', () => {
    const r = rollUp(item('configured'), [{ label: 'address a', status: undefined }]);
    assert.equal(r.state, 'pending');
    assert.equal(r.reason, 'address a is being added');
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

  test('an error that names its address already is not prefixed with it again', () => {
    for (const message of [
      'address 2001:db8::1/64: IPv6 is off on x0, whose MTU 1200 is below 1280',
      'address 2001:db8::1/64 is used by another host on the link of x0',
    ]) {
      const r = rollUp(item('configured'), [
        { label: 'address 2001:db8::1/64', status: item('failed', { error: { message, retriable: false } }) },
      ]);
      assert.equal(r.error?.message, message);
    }
  });

  test('an address pending since before the interface was configured: the item is pending, the address being added', () => {
    const r = rollUp(item('configured', { changeSeq: 5 }), [
      {
        label: 'address 10.0.0.1/24',
        status: item('pending', { reason: 'waiting for interface x', changeSeq: 3 }),
      },
    ]);
    assert.equal(r.state, 'pending');
    assert.equal(r.reason, 'address 10.0.0.1/24 is being added');
  });

  test('an address pending since after (it goes first while the interface is removed) changes nothing', () => {
    const s = item('configured', { changeSeq: 5 });
    const r = rollUp(s, [
      {
        label: 'address 10.0.0.1/24',
        status: item('pending', { reason: 'waiting for interface x', changeSeq: 7 }),
      },
    ]);
    assert.equal(r, s);
  });

  test('an item that is not configured is shown as it is', () => {
    const s = item('pending', { reason: 'waiting' });
    assert.equal(rollUp(s, [{ label: 'a', status: item('failed') }]), s);
  });
});

describe('a named namespace kept for links of others', () => {
  test('its removal waiting for them is pending with why, not failed; other failures stay failed', () => {
    const message = 'named namespace ns2 is kept while it holds links that are not ours (x1)';
    const kept = keptNamespaceWaits(
      item('failed', {
        error: { message, code: 'ERR_NAMESPACE_IN_USE', retriable: true },
        retries: 3,
        nextRetryAt: 99,
      }),
    );
    assert.equal(kept.state, 'pending');
    assert.equal(kept.reason, message);
    assert.equal(kept.error, undefined);
    assert.equal(kept.nextRetryAt, undefined);
    const other = item('failed', { error: { message: 'EBUSY', code: 'ERR_NETLINK', retriable: true } });
    assert.equal(keptNamespaceWaits(other), other);
  });
});
