import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidNamespaceNameError,
  NamespaceNotFoundError,
  NamespacePermissionError,
  NotANamespaceError,
  defaultNamespace,
  defaultNamespacePath,
  fileNamespace,
  namedNamespace,
  pathOf,
  pidNamespace,
  resolve,
  resolveIfExists,
} from '../../../src/netns/index.js';
import { CLONE_NEWNS, FakeFiles } from './fake-files.js';

describe('pathOf', () => {
  test('maps each kind to its file', () => {
    assert.equal(pathOf(defaultNamespace), `/proc/${process.pid}/task/${process.pid}/ns/net`);
    assert.equal(defaultNamespacePath(), pathOf(defaultNamespace));
    assert.equal(pathOf(namedNamespace('blue')), '/var/run/netns/blue');
    assert.equal(pathOf(namedNamespace('blue'), '/tmp/ns'), '/tmp/ns/blue');
    assert.equal(pathOf(pidNamespace(42)), '/proc/42/ns/net');
    assert.equal(pathOf(fileNamespace('/proc/42/task/43/ns/net')), '/proc/42/task/43/ns/net');
  });
  test('validates first', () => {
    assert.throws(() => pathOf(namedNamespace('../x')), InvalidNamespaceNameError);
  });
});

describe('resolve (fake files)', () => {
  test('returns path and identity', () => {
    const files = new FakeFiles();
    const ino = files.namespace('/var/run/netns/blue');
    const resolved = resolve(namedNamespace('blue'), { files });
    assert.deepEqual(resolved, {
      ref: namedNamespace('blue'),
      path: '/var/run/netns/blue',
      identity: { dev: 4, ino },
    });
  });

  test('two references to one namespace have one identity', () => {
    const files = new FakeFiles();
    const ino = files.namespace('/proc/77/ns/net');
    files.namespace('/var/run/netns/blue', ino);
    assert.deepEqual(
      resolve(pidNamespace(77), { files }).identity,
      resolve(namedNamespace('blue'), { files }).identity,
    );
  });

  test('the default namespace is looked at once', () => {
    const files = new FakeFiles();
    files.namespace(defaultNamespacePath(), 4026531833);
    const first = resolve(defaultNamespace, { files });
    files.namespace(defaultNamespacePath(), 1);
    assert.deepEqual(resolve(defaultNamespace, { files }), first);
    assert.equal(files.count('inspect'), 1);
  });

  test('missing: NamespaceNotFoundError (retriable), resolveIfExists gives undefined', () => {
    const files = new FakeFiles();
    assert.throws(
      () => resolve(pidNamespace(99), { files }),
      (error: unknown) =>
        error instanceof NamespaceNotFoundError && error.retriable && error.path === '/proc/99/ns/net',
    );
    assert.equal(resolveIfExists(pidNamespace(99), { files }), undefined);
  });

  test('permission denied: NamespacePermissionError', () => {
    const files = new FakeFiles().set('/proc/1/ns/net', { kind: 'error', code: 'EACCES' });
    assert.throws(() => resolve(pidNamespace(1), { files }), NamespacePermissionError);
    assert.throws(() => resolveIfExists(pidNamespace(1), { files }), NamespacePermissionError);
  });

  test('a directory is refused without being opened', () => {
    const files = new FakeFiles().set('/var/run/netns', { kind: 'directory' });
    assert.throws(() => resolve(fileNamespace('/var/run/netns'), { files }), /not a regular file/);
    assert.equal(files.count('inspect'), 0);
  });

  test('a regular file elsewhere than nsfs is refused', () => {
    const files = new FakeFiles().set('/etc/hostname', { kind: 'file' });
    assert.throws(
      () => resolve(fileNamespace('/etc/hostname'), { files }),
      (error: unknown) =>
        error instanceof NotANamespaceError &&
        error.path === '/etc/hostname' &&
        /ext4, not nsfs/.test(error.message),
    );
  });

  test('a namespace of another type is refused', () => {
    const files = new FakeFiles().set('/proc/1/ns/mnt', { kind: 'namespace', ino: 5, nsType: CLONE_NEWNS });
    assert.throws(() => resolve(fileNamespace('/proc/1/ns/mnt'), { files }), /a mount namespace/);
  });

  test('invalid references fail before any file is touched', () => {
    const files = new FakeFiles();
    assert.throws(() => resolve(namedNamespace('a/b'), { files }), InvalidNamespaceNameError);
    assert.equal(files.calls.length, 0);
  });
});
