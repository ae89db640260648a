import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OwnEntries,
  anyLinkPlace,
  neighbourPlace,
  routeEntryPlace,
} from '../../../src/descriptors/own-entries.js';
import { AF_INET, AF_INET6 } from '../../../src/netlink/index.js';

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

describe('OwnEntries: IPv6 routes, one per link at a place', () => {
  it("ours through one link does not make another label's through another link ours", () => {
    const book = new OwnEntries();
    book.noteRead('route', 'ns1');
    book.noteMade('route', 'ns1', routeEntryPlace('10|64|2001:db8::|254|1024', AF_INET6, 3));
    const theirs = routeEntryPlace('10|64|2001:db8::|254|1024', AF_INET6, 4);
    const anyLink = anyLinkPlace('10|64|2001:db8::|254|1024', AF_INET6);
    assert.equal(book.takeOrphan('route', 'ns1', theirs, anyLink), false);
    // One of ours naming no interface: the kernel's pick of link is ours.
    book.noteMade('route', 'ns1', anyLink!);
    assert.equal(book.takeOrphan('route', 'ns1', theirs, anyLink), true);
    // IPv4 holds one route at a place: its link is not part of it.
    assert.equal(
      routeEntryPlace('2|24|10.0.0.0|254|0', AF_INET, 3),
      routeEntryPlace('2|24|10.0.0.0|254|0', AF_INET, 4),
    );
  });
  it('a namespace let go is forgotten: one given the same identity later is read afresh', () => {
    const book = new OwnEntries();
    book.noteMade('route', 'ns1', 'p1');
    book.noteAppeared('route', 'ns1', 'p2');
    book.noteRead('route', 'ns1');
    book.noteMade('route', 'ns10', 'p1');
    book.noteRead('route', 'ns10');
    book.forgetNamespace('ns1');
    assert.equal(book.takeOrphan('route', 'ns1', 'p2'), true, 'first read again: taken over');
    assert.equal(book.takeOrphan('route', 'ns10', 'p1'), true, 'another namespace keeps its book');
    assert.equal(book.takeOrphan('route', 'ns10', 'p9'), false);
  });
});

describe('OwnEntries: a request that fails makes nothing ours', () => {
  const refused = (): Promise<void> => Promise.reject(new Error('EEXIST'));

  it('an entry booked for a request that failed is not ours: one there later is not taken', async () => {
    const book = new OwnEntries();
    book.noteRead('route', 'ns1');
    await assert.rejects(book.making('route', 'ns1', 'p1', refused), /EEXIST/);
    // Another label makes its entry there afterwards; a re-read must not take it for ours.
    book.noteAppeared('route', 'ns1', 'p1');
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), false);
    await book.making('route', 'ns1', 'p2', () => Promise.resolve());
    assert.equal(book.takeOrphan('route', 'ns1', 'p2'), true, 'made: ours');
  });

  it('our own entry (booked before) stays ours when a replace of it fails', async () => {
    const book = new OwnEntries();
    book.noteRead('neighbour', 'ns1');
    const place = neighbourPlace(3, '10.0.0.8');
    await book.making('neighbour', 'ns1', place, () => Promise.resolve());
    await assert.rejects(book.making('neighbour', 'ns1', place, refused));
    assert.equal(book.takeOrphan('neighbour', 'ns1', place), true);
  });

  it("someone else's entry, known before a request to put ours there failed, is still theirs", async () => {
    const book = new OwnEntries();
    book.noteAppeared('route', 'ns1', 'p1');
    await assert.rejects(book.making('route', 'ns1', 'p1', refused));
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), false, 'not taken even at the first read');
  });

  it('what appeared while a request that failed was under way is not ours', async () => {
    const book = new OwnEntries();
    const anyLink = anyLinkPlace('10|64|2001:db8::|254|1024', AF_INET6)!;
    const through4 = routeEntryPlace('10|64|2001:db8::|254|1024', AF_INET6, 4);
    await assert.rejects(
      book.making('route', 'ns1', anyLink, async () => {
        // Taken for the one the request makes (naming no interface, the kernel picks the link).
        book.noteAppeared('route', 'ns1', through4, anyLink);
        throw new Error('ENETUNREACH');
      }),
    );
    assert.equal(book.takeOrphan('route', 'ns1', through4, anyLink), false, 'even at the first read');
  });

  it('two requests for one entry at once: the book follows the one that made it', async () => {
    const book = new OwnEntries();
    book.noteRead('route', 'ns1');
    let fail!: (error: Error) => void;
    const failing = book.making(
      'route',
      'ns1',
      'p1',
      () => new Promise<void>((_, reject) => (fail = reject)),
    );
    const succeeding = book.making('route', 'ns1', 'p1', () => Promise.resolve());
    await succeeding;
    fail(new Error('EEXIST'));
    await assert.rejects(failing);
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), true, 'made by the other request: ours');
    // The first fails while the second is still under way: kept until the second settles.
    let succeed!: () => void;
    book.noteRemoved('route', 'ns1', 'p2');
    const first = book.making('route', 'ns1', 'p2', refused);
    const second = book.making(
      'route',
      'ns1',
      'p2',
      () => new Promise<void>((resolve) => (succeed = resolve)),
    );
    await assert.rejects(first);
    succeed();
    await second;
    assert.equal(book.takeOrphan('route', 'ns1', 'p2'), true);
  });

  it('a namespace let go while a request was under way: its book stays forgotten', async () => {
    const book = new OwnEntries();
    book.noteAppeared('route', 'ns1', 'p1');
    await assert.rejects(
      book.making('route', 'ns1', 'p1', async () => {
        book.forgetNamespace('ns1');
        throw new Error('ENOENT');
      }),
    );
    assert.equal(book.takeOrphan('route', 'ns1', 'p1'), true, 'first read of a new namespace: taken over');
  });
});
