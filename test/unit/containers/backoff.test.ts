import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exponentialBackoff } from '../../../src/containers/backoff.js';

describe('exponentialBackoff', () => {
  test('doubles up to the cap without jitter', () => {
    const backoff = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(backoff), [100, 200, 400, 800, 1000, 1000]);
  });
  test('jitter stays within its fraction', () => {
    const low = exponentialBackoff({ initialMs: 100, jitter: 0.2, random: () => 0 });
    const high = exponentialBackoff({ initialMs: 100, jitter: 0.2, random: () => 1 });
    assert.equal(low(0), 80);
    assert.equal(high(0), 120);
  });
});
