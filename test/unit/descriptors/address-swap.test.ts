import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sameNetwork, swapSteps } from '../../../src/descriptors/address-swap.js';

describe('readdressing without a flush', () => {
  test('sameNetwork: one network of one prefix length', () => {
    assert.equal(sameNetwork('10.0.2.1/24', '10.0.2.200/24'), true);
    assert.equal(sameNetwork('10.0.2.1/24', '10.0.3.1/24'), false);
    assert.equal(sameNetwork('10.0.2.1/24', '10.0.2.1/25'), false);
    assert.equal(sameNetwork('10.0.2.1/24', 'fd00::1/24'), false);
  });

  test('the last address replaced: the new ones first; promoted when they are of its network', () => {
    assert.deepEqual(swapSteps('10.0.2.1/24', ['10.0.2.1/24'], ['10.0.2.5/24']), {
      addFirst: ['10.0.2.5/24'],
      promote: true,
    });
    assert.deepEqual(swapSteps('10.0.2.1/24', ['10.0.2.1/24'], ['10.0.3.1/24']), {
      addFirst: ['10.0.3.1/24'],
      promote: false,
    });
    // A secondary of its network staying (wanted, there already): promoted, nothing added.
    assert.deepEqual(swapSteps('10.0.2.1/24', ['10.0.2.1/24', '10.0.2.7/24'], ['10.0.2.7/24']), {
      addFirst: [],
      promote: true,
    });
  });

  test("old addresses of ours are not taken as staying (their removals run at the same time); others' are", () => {
    assert.deepEqual(
      swapSteps('10.0.3.1/24', ['10.0.3.1/24', '10.0.4.1/24'], ['10.0.3.5/24', '10.0.4.5/24']),
      {
        addFirst: ['10.0.3.5/24', '10.0.4.5/24'],
        promote: true,
      },
    );
    // Their address of another network stays: only the new one of the network that empties.
    const theirs = (cidr: string): boolean => cidr === '10.0.9.1/24';
    assert.deepEqual(
      swapSteps('10.0.2.1/24', ['10.0.2.1/24', '10.0.9.1/24'], ['10.0.2.5/24', '10.0.8.1/24'], theirs),
      { addFirst: ['10.0.2.5/24'], promote: true },
    );
  });

  test('one network of several readdressed: its new address first (routes via its gateways stay); IPv6 too', () => {
    assert.deepEqual(
      swapSteps('10.3.0.1/24', ['10.1.0.1/24', '10.3.0.1/24'], ['10.1.0.1/24', '10.3.0.5/24']),
      {
        addFirst: ['10.3.0.5/24'],
        promote: true,
      },
    );
    assert.deepEqual(
      swapSteps('2001:db8:1::9/64', ['2001:db8:1::9/64', 'fe80::1/64'], ['2001:db8:1::7/64'], (c) =>
        c.startsWith('fe80'),
      ),
      { addFirst: ['2001:db8:1::7/64'], promote: false },
    );
  });

  test('nothing to do: its network keeps an address, or nothing new is wanted', () => {
    const none = { addFirst: [], promote: false };
    assert.deepEqual(
      swapSteps('10.0.2.1/24', ['10.0.2.1/24', '10.0.9.1/24'], ['10.0.9.1/24', '10.0.7.1/24']),
      none,
    );
    assert.deepEqual(swapSteps('10.0.2.1/24', ['10.0.2.1/24'], ['10.0.2.1/24']), none);
    assert.deepEqual(
      swapSteps('2001:db8::1/64', ['2001:db8::1/64', '2001:db8::2/64'], ['2001:db8::2/64', 'fd00::1/64']),
      none,
    );
  });
});
