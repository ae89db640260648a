import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../../src/errors.js';
import {
  InvalidNamespaceNameError,
  InvalidNamespaceRefError,
  NamespaceNotFoundError,
  NamespacePermissionError,
  NamespaceSystemError,
  NotANamespaceError,
  defaultNamespace,
  describeRef,
  fileNamespace,
  identityKey,
  namedNamespace,
  namespaceErrorFrom,
  namespaceNameProblem,
  normalizeRef,
  pidNamespace,
  refKey,
  sameNamespace,
  validateRef,
  type NamespaceRef,
} from '../../../src/netns/index.js';
import { errnoError } from './fake-files.js';

describe('namespace names', () => {
  const invalid: Array<[string, RegExp]> = [
    ['', /empty/],
    ['.', /not a name/],
    ['..', /not a name/],
    ['a/b', /"\/"/],
    ['/abs', /"\/"/],
    ['../etc', /"\/"/],
    ['a\0b', /NUL/],
    ['x'.repeat(256), /256 bytes/],
    ['é'.repeat(128), /256 bytes/],
  ];
  for (const [name, reason] of invalid) {
    test(`refuses ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}...(${name.length})` : name)}`, () => {
      assert.match(namespaceNameProblem(name) ?? '', reason);
      assert.throws(
        () => validateRef(namedNamespace(name)),
        (error: unknown) =>
          error instanceof InvalidNamespaceNameError &&
          error instanceof AgentError &&
          error.code === 'ERR_NAMESPACE_NAME_INVALID' &&
          error.field === 'name' &&
          error.namespaceName === name &&
          !error.retriable,
      );
    });
  }
  for (const name of [
    'blue',
    'ns-1',
    'a.b',
    '...',
    '.hidden',
    'with space',
    'x'.repeat(255),
    'é'.repeat(127),
  ]) {
    test(`accepts ${JSON.stringify(name.slice(0, 12))}`, () => {
      assert.equal(namespaceNameProblem(name), undefined);
      validateRef(namedNamespace(name));
    });
  }
});

describe('pid and file references', () => {
  for (const pid of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 4_194_305]) {
    test(`refuses pid ${pid}`, () => {
      assert.throws(
        () => validateRef(pidNamespace(pid)),
        (error: unknown) => error instanceof InvalidNamespaceRefError && error.field === 'pid',
      );
    });
  }
  for (const pid of [1, 4242, 4_194_304]) test(`accepts pid ${pid}`, () => validateRef(pidNamespace(pid)));

  for (const path of ['', 'relative/ns', './net', '/proc/1/ns/net\0x', `/${'a'.repeat(4095)}`]) {
    test(`refuses path ${JSON.stringify(path.slice(0, 20))}`, () => {
      assert.throws(
        () => validateRef(fileNamespace(path)),
        (error: unknown) => error instanceof InvalidNamespaceRefError && error.field === 'path',
      );
    });
  }
  test('accepts absolute paths and the default reference', () => {
    validateRef(fileNamespace('/proc/1/task/1/ns/net'));
    validateRef(defaultNamespace);
  });
});

describe('reference helpers', () => {
  test('refKey and describeRef tell every kind apart', () => {
    const refs: NamespaceRef[] = [
      defaultNamespace,
      namedNamespace('1'),
      pidNamespace(1),
      fileNamespace('/1'),
    ];
    assert.deepEqual(refs.map(refKey), ['default', 'named:1', 'pid:1', 'file:/1']);
    assert.deepEqual(refs.map(describeRef), [
      'the default namespace',
      'named namespace "1"',
      'namespace of pid 1',
      'namespace file "/1"',
    ]);
  });

  test('normalizeRef turns files in /run/netns and /var/run/netns into named references', () => {
    assert.deepEqual(normalizeRef(fileNamespace('/run/netns/blue')), namedNamespace('blue'));
    assert.deepEqual(normalizeRef(fileNamespace('/var/run/netns/blue')), namedNamespace('blue'));
    for (const path of [
      '/var/run/netns/a/b',
      '/run/netns/..',
      '/run/netns/',
      '/run/netnsx/a',
      '/proc/1/ns/net',
    ]) {
      assert.deepEqual(normalizeRef(fileNamespace(path)), fileNamespace(path));
    }
    assert.deepEqual(normalizeRef(pidNamespace(3)), pidNamespace(3));
  });

  test('sameNamespace compares device and inode', () => {
    assert.ok(sameNamespace({ dev: 4, ino: 10 }, { dev: 4, ino: 10 }));
    assert.ok(!sameNamespace({ dev: 4, ino: 10 }, { dev: 5, ino: 10 }));
    assert.ok(!sameNamespace({ dev: 4, ino: 10 }, { dev: 4, ino: 11 }));
    assert.ok(!sameNamespace(undefined, { dev: 4, ino: 11 }));
    assert.equal(identityKey({ dev: 4, ino: 4026531833 }), '4:4026531833');
  });
});

describe('namespaceErrorFrom', () => {
  const what = 'named namespace "x"';
  test('ENOENT, ENOTDIR and ESRCH mean not found, retriable', () => {
    for (const code of ['ENOENT', 'ENOTDIR', 'ESRCH']) {
      const error = namespaceErrorFrom(errnoError(code), what, '/p');
      assert.ok(error instanceof NamespaceNotFoundError);
      assert.equal(error.code, 'ERR_NAMESPACE_NOT_FOUND');
      assert.equal(error.path, '/p');
      assert.ok(error.retriable);
      assert.match(error.message, /named namespace "x" does not exist \(\/p\)/);
    }
  });
  test('EACCES and EPERM mean permission, terminal', () => {
    for (const code of ['EACCES', 'EPERM']) {
      const error = namespaceErrorFrom(errnoError(code), what, '/p');
      assert.ok(error instanceof NamespacePermissionError);
      assert.ok(!error.retriable);
    }
  });
  test('ELOOP is not a namespace; others are system errors keeping the cause', () => {
    assert.ok(namespaceErrorFrom(errnoError('ELOOP'), what, '/p') instanceof NotANamespaceError);
    const cause = errnoError('EMFILE');
    const error = namespaceErrorFrom(cause, what, '/p');
    assert.ok(error instanceof NamespaceSystemError);
    assert.equal(error.errnoName, 'EMFILE');
    assert.ok(error.retriable);
    assert.equal(error.cause, cause);
    const weird = namespaceErrorFrom(new Error('boom'), what, '/p');
    assert.ok(weird instanceof NamespaceSystemError && weird.errnoName === 'EUNKNOWN' && !weird.retriable);
  });
  test('agent errors pass through', () => {
    const error = new NotANamespaceError(what, '/p', 'x');
    assert.equal(namespaceErrorFrom(error, 'other', '/q'), error);
  });
});
