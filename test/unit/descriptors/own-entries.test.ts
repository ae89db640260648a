import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OwnEntries, neighbourPlace } from '../../../src/descriptors/own-entries.js';

describe('OwnEntries: whose entries of our protocol number on unmarked links are', () => {
  it('takes over what a namespace holds at its first read, and nothing unknown after it', () => {
    const book = new OwnEntries();
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), true, 'first read: an earlier run may have made it');
    book.noteRead('route', 'ns1');
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), true, 'taken over: still ours when tried again');
    assert.equal(book.takeOrphan('route', 'ns1', 'p2'), false, 'appeared since: not ours');
    assert.equal(book.takeOrphan('neighbour', 'ns1', 'p2'), true, 'neighbours are read on their own');
    assert.equal(book.takeOrphan('route', 'ns2', 'p2'), true, 'another namespace: its own first read');
  });

  it('what this process made is its own until it removes it', () => {
    const book = new OwnEntries();
    book.noteRead('route', 'ns1');
    book.noteMade('route', 'ns1', 'p1');
    book.noteAppeared('route', 'ns1', 'p1'); // its own event
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), true);
    book.noteRemoved('route', 'ns1', 'p1');
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), false, 'one there later is not known to be ours');
  });

  it('an entry that appeared while watched, not made here, is not taken even at the first read', () => {
    const book = new OwnEntries();
    book.noteAppeared('neighbour', 'ns1', neighbourPlace(3, '10.0.0.8'));
    assert.equal(book.takeOrphan('neighbour', 'ns1', neighbourPlace(3, '10.0.0.8')), false);
    book.noteGone('neighbour', 'ns1', neighbourPlace(3, '10.0.0.8'));
    assert.equal(
      book.takeOrphan('neighbour', 'ns1', neighbourPlace(3, '10.0.0.8')),
      true,
      'gone, and the namespace not read yet: judged afresh',
    );
    book.noteMade('neighbour', 'ns1', neighbourPlace(4, '10.0.0.9'));
    book.noteAppeared('neighbour', 'ns1', neighbourPlace(4, '10.0.0.9'));
    book.noteRead('neighbour', 'ns1');
    assert.equal(book.takeOrphan('neighbour', 'ns1', neighbourPlace(4, '10.0.0.9')), true);
  });
});
