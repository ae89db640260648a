/** src/util/make-directories.ts: mkdir -p that reports what Node's recursive mkdir never returns from. */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeDirectories } from '../../src/util/make-directories.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('makes every missing directory with the mode, and is idempotent', () =>
  withTempDir('mkdirs-', (dir) => {
    const deep = path.join(dir, 'a', 'b', 'c');
    makeDirectories(deep, 0o700);
    makeDirectories(deep, 0o700);
    assert.ok(statSync(deep).isDirectory());
    assert.equal(statSync(path.join(dir, 'a')).mode & 0o777, 0o700);
  }));

test('a file in the way: ENOTDIR', () =>
  withTempDir('mkdirs-', (dir) => {
    writeFileSync(path.join(dir, 'f'), '');
    assert.throws(() => makeDirectories(path.join(dir, 'f', 'x')), { code: 'ENOTDIR' });
  }));

test('under /proc: the error, where fs.mkdirSync(..., { recursive: true }) spins for ever', () => {
  assert.throws(() => makeDirectories('/proc/netns-agent-test/x'), { code: 'ENOENT' });
});
