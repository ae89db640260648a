import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NamespaceFile, type FileDescriptors } from '../../../src/netns/index.js';

/** Descriptors that hand out numbers and record closes. */
function fakeDescriptors(): FileDescriptors & { closed: number[] } {
  let next = 10;
  const closed: number[] = [];
  return { closed, open: () => next++, close: (fd) => void closed.push(fd) };
}

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('NamespaceFile', () => {
  test('lends its number and closes it with itself when nothing borrows it', async () => {
    const fds = fakeDescriptors();
    const file = new NamespaceFile('/run/netns/a', 'named namespace a', fds);
    assert.equal(await file.use((fd) => Promise.resolve(fd)), 10);
    file.close();
    file.close();
    assert.deepEqual(fds.closed, [10]);
    assert.equal(file.open, false);
  });

  test('closed while lent: the number stays open until the last borrower settles, even when it fails', async () => {
    const fds = fakeDescriptors();
    const file = new NamespaceFile('/run/netns/a', 'named namespace a', fds);
    const first = deferred();
    const second = deferred();
    const one = file.use(() => first.promise);
    const two = file.use(() => second.promise.then(() => Promise.reject(new Error('EEXIST'))));
    file.close();
    first.resolve();
    await one;
    assert.deepEqual(fds.closed, [], 'still lent to the second request');
    second.resolve();
    await assert.rejects(two, /EEXIST/);
    assert.deepEqual(fds.closed, [10]);
  });

  test('borrowed after close: a retriable not-found error naming the namespace and its path', async () => {
    const file = new NamespaceFile('/run/netns/a', 'named namespace a', fakeDescriptors());
    file.close();
    await assert.rejects(
      file.use(() => Promise.resolve()),
      (error: Error & { code?: string; retriable?: boolean }) =>
        error.code === 'ERR_NAMESPACE_NOT_FOUND' &&
        error.retriable === true &&
        /named namespace a .*\/run\/netns\/a/.test(error.message),
    );
  });
});
