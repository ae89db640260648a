import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RecoverableError } from 'etcd3';
import {
  canTransition,
  exponentialBackoff,
  parseEndpoints,
  prefixEnd,
} from '../../../src/datastore/index.js';
import { MemberBreaker } from '../../../src/datastore/etcd/member-breaker.js';
import { etcdError } from '../../../src/datastore/etcd/client.js';
import { tidyGrpcMessage } from '../../../src/datastore/etcd/grpc-message.js';
import { compactionCut } from '../../../src/datastore/sqlite/compaction.js';

/** Compares like SQLite's BINARY collation and etcd: by UTF-8 bytes. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

describe('prefixEnd', () => {
  test('table', () => {
    assert.equal(prefixEnd('/a/'), '/a0');
    assert.equal(prefixEnd('abc'), 'abd');
    assert.equal(prefixEnd(''), null);
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
    assert.equal(prefixEnd('\u{10FFFF}'), null);
    assert.equal(prefixEnd('x\uD7FF'), 'x\uE000');
    assert.equal(prefixEnd('é'), 'ê');
  });

  test('keys under a prefix are exactly those in [prefix, prefixEnd) by UTF-8 byte order', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 4 }),
        fc.string({ unit: 'grapheme', maxLength: 6 }),
        (prefix, key) => {
          const end = prefixEnd(prefix);
          const inRange = byteCompare(key, prefix) >= 0 && (end === null || byteCompare(key, end) < 0);
          assert.equal(
            inRange,
            key.startsWith(prefix),
            `prefix ${JSON.stringify(prefix)} key ${JSON.stringify(key)}`,
          );
          const extended = prefix + key;
          assert.ok(end === null || byteCompare(extended, end) < 0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('watcher state machine', () => {
  test('allowed and refused transitions', () => {
    assert.ok(canTransition('idle', 'connecting'));
    assert.ok(canTransition('connecting', 'in-sync'));
    assert.ok(canTransition('in-sync', 'lost'));
    assert.ok(canTransition('lost', 'connecting'));
    assert.ok(canTransition('in-sync', 'closed'));
    assert.ok(!canTransition('idle', 'in-sync'));
    assert.ok(!canTransition('lost', 'in-sync'));
    assert.ok(!canTransition('closed', 'connecting'));
    assert.ok(!canTransition('in-sync', 'connecting'));
  });
});

describe('exponentialBackoff', () => {
  test('grows to the cap, jitter within bounds', () => {
    const exact = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(exact), [100, 200, 400, 800, 1000, 1000]);
    const jittered = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    assert.equal(jittered(0), 50);
  });
});

describe('compactionCut', () => {
  test('keeps retainRevisions, honours the row limit, never the newest revision', () => {
    const limits = { retainRevisions: 10, maxRows: 100 };
    assert.equal(compactionCut(5, limits, undefined), 0);
    assert.equal(compactionCut(25, limits, undefined), 15);
    assert.equal(compactionCut(25, limits, 20), 20);
    assert.equal(compactionCut(25, limits, 25), 24);
  });
});

describe('parseEndpoints / openDatastore', () => {
  test('comma-separated or list, blanks dropped', () => {
    assert.deepEqual(parseEndpoints('http://a:2379, http://b:2379,'), ['http://a:2379', 'http://b:2379']);
    assert.deepEqual(parseEndpoints(['x:1', ' ']), ['x:1']);
    assert.deepEqual(parseEndpoints(undefined), []);
    assert.deepEqual(parseEndpoints(''), []);
  });
});

describe('MemberBreaker', () => {
  const unavailable = Object.assign(new Error('unavailable'), { [RecoverableError]: true });
  test('opens after consecutive connection failures, for openMs, then lets calls through', () => {
    let now = 0;
    const breaker = new MemberBreaker('m', { failures: 3, openMs: 1000, now: () => now });
    breaker.failed(unavailable);
    breaker.failed(unavailable);
    breaker.succeeded();
    breaker.failed(unavailable);
    breaker.failed(unavailable);
    assert.ok(breaker.allows(), 'a success resets the count');
    breaker.failed(new Error('invalid argument: not about the member'));
    assert.ok(breaker.allows());
    breaker.failed(unavailable);
    assert.ok(!breaker.allows());
    now = 999;
    assert.ok(!breaker.allows());
    now = 1000;
    assert.ok(breaker.allows());
    assert.equal(breaker.lastFailure, 'unavailable', 'what the last connection failure said');
  });
});

describe('etcd error messages', () => {
  test("gRPC's empty resolution note and repeated error class are left out", () => {
    const grpc =
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:23999. Resolution note: ';
    assert.equal(
      tidyGrpcMessage(grpc),
      '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:23999',
    );
    assert.equal(tidyGrpcMessage('Resolution note: DNS failed'), 'Resolution note: DNS failed');
    const error = etcdError('read', Object.assign(new Error(grpc), { [RecoverableError]: true }));
    assert.equal(error.message.includes('Resolution note'), false);
    assert.match(error.message, /^etcd read: 14 UNAVAILABLE: .*ECONNREFUSED 127\.0\.0\.1:23999$/);
    // The member breaker's "last failure" (in its refusals) is tidied the same way.
    const breaker = new MemberBreaker('m');
    breaker.failed(Object.assign(new Error(grpc), { [RecoverableError]: true }));
    assert.equal(breaker.lastFailure?.includes('Resolution note'), false);
  });
});
