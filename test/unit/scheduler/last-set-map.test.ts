import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LastSetMap } from '../../../src/scheduler/last-set-map.js';

describe('LastSetMap', () => {
  test('last is the entry set last, after deletions anywhere and after a key is set again', () => {
    const map = new LastSetMap<string, number>();
    assert.equal(map.last, undefined);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    assert.equal(map.last, 3);
    assert.equal(map.delete('b'), true);
    assert.equal(map.last, 3);
    assert.equal(map.delete('c'), true);
    assert.equal(map.last, 1);
    map.set('b', 4);
    map.set('a', 5); // set again: now the last
    assert.equal(map.last, 5);
    assert.equal(map.delete('a'), true);
    assert.equal(map.last, 4);
    assert.equal(map.delete('nothing'), false);
    assert.equal(map.get('b'), 4);
    assert.equal(map.size, 1);
    assert.equal(map.delete('b'), true);
    assert.equal(map.last, undefined);
    assert.equal(map.size, 0);
  });

  test('a clone keeps the order and changes apart from the original', () => {
    const map = new LastSetMap<string, number>();
    map.set('a', 1);
    map.set('b', 2);
    const copy = map.clone();
    copy.delete('b');
    assert.equal(copy.last, 1);
    assert.equal(map.last, 2);
    map.delete('b');
    map.delete('a');
    assert.equal(copy.last, 1);
    assert.equal(copy.size, 1);
  });

  test('agrees with a scan of an insertion-ordered Map (re-set keys moved to the end)', () => {
    const op = fc.record({ set: fc.boolean(), key: fc.integer({ min: 0, max: 6 }), value: fc.integer() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const map = new LastSetMap<number, number>();
        const model = new Map<number, number>();
        for (const { set, key, value } of ops) {
          if (set) {
            map.set(key, value);
            model.delete(key);
            model.set(key, value);
          } else assert.equal(map.delete(key), model.delete(key));
          assert.equal(map.size, model.size);
          assert.equal(map.last, [...model.values()].at(-1));
          assert.equal(map.get(key), model.get(key));
        }
      }),
    );
  });
});
