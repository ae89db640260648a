import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidNamespaceNameError,
  NamespaceExistsError,
  NamespacePermissionError,
  createNamed,
  deleteNamed,
  finishInterruptedDeletion,
  listNamed,
} from '../../../src/netns/index.js';
import { FakeFiles } from './fake-files.js';

const dir = '/var/run/netns';

describe('createNamed (fake files)', () => {
  test('creates and reports the identity', () => {
    const files = new FakeFiles();
    const result = createNamed('blue', { files });
    assert.equal(result.created, true);
    assert.equal(result.path, `${dir}/blue`);
    const entry = files.entries.get(`${dir}/blue`);
    assert.ok(entry?.kind === 'namespace' && entry.ino === result.identity.ino);
  });

  test('an existing namespace is found, not an error', () => {
    const files = new FakeFiles();
    const ino = files.namespace(`${dir}/blue`);
    const result = createNamed('blue', { files });
    assert.equal(result.created, false);
    assert.equal(result.identity.ino, ino);
  });

  test('an existing file that is no namespace: NamespaceExistsError, retriable, nothing removed', () => {
    const files = new FakeFiles().set(`${dir}/blue`, { kind: 'file', fsMagic: 0x01021994 });
    assert.throws(
      () => createNamed('blue', { files }),
      (error: unknown) =>
        error instanceof NamespaceExistsError && error.retriable && error.path === `${dir}/blue`,
    );
    assert.equal(files.entries.get(`${dir}/blue`)?.kind, 'file');
  });

  test('not root: NamespacePermissionError', () => {
    const files = new FakeFiles();
    files.createError = 'EPERM';
    assert.throws(() => createNamed('blue', { files }), NamespacePermissionError);
  });

  test('bad names never reach the file system', () => {
    const files = new FakeFiles();
    for (const name of ['', '.', '..', 'a/b', 'x'.repeat(256)]) {
      assert.throws(() => createNamed(name, { files }), InvalidNamespaceNameError);
      assert.throws(() => deleteNamed(name, { files }), InvalidNamespaceNameError);
    }
    assert.equal(files.calls.length, 0);
  });
});

describe('deleteNamed and listNamed (fake files)', () => {
  test('delete is idempotent', () => {
    const files = new FakeFiles();
    files.namespace(`${dir}/blue`);
    assert.equal(deleteNamed('blue', { files }), true);
    assert.equal(deleteNamed('blue', { files }), false);
    assert.equal(files.entries.has(`${dir}/blue`), false);
  });

  test('list: sorted, namespaces only; no directory means none', () => {
    const files = new FakeFiles();
    assert.deepEqual(listNamed({ files }), []);
    const b = files.namespace(`${dir}/b`);
    const a = files.namespace(`${dir}/a`);
    files.set(`${dir}/half-made`, { kind: 'file', fsMagic: 0x01021994 });
    files.set(`${dir}/c`, { kind: 'error', code: 'ENOENT' });
    assert.deepEqual(listNamed({ files }), [
      { name: 'a', path: `${dir}/a`, identity: { dev: 4, ino: a } },
      { name: 'b', path: `${dir}/b`, identity: { dev: 4, ino: b } },
    ]);
  });
});

describe('finishInterruptedDeletion (fake files)', () => {
  test('removes only the bare file a cut-short deletion leaves (empty, mode 0, no namespace on it)', () => {
    const files = new FakeFiles()
      .set(`${dir}/left`, { kind: 'file', fsMagic: 0x01021994, mode: 0 })
      .set(`${dir}/mine`, { kind: 'file', fsMagic: 0x01021994, mode: 0o644 })
      .set(`${dir}/full`, { kind: 'file', fsMagic: 0x01021994, mode: 0, size: 12 })
      .set(`${dir}/dir`, { kind: 'directory' });
    files.namespace(`${dir}/blue`);
    assert.equal(finishInterruptedDeletion('left', { files }), true);
    assert.equal(files.entries.has(`${dir}/left`), false);
    for (const name of ['mine', 'full', 'dir', 'blue', 'none'])
      assert.equal(finishInterruptedDeletion(name, { files }), false, name);
    assert.deepEqual([...files.entries.keys()].sort(), [
      `${dir}/blue`,
      `${dir}/dir`,
      `${dir}/full`,
      `${dir}/mine`,
    ]);
  });
});
