import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CodeCacheFile, decodeCodeCache, encodeCodeCache, sourceDigest } from '../../src/cli/code-cache.js';

test('code cache: data comes back only for the source it was made from', () => {
  const data = Buffer.from('v8 data');
  const file = encodeCodeCache(sourceDigest('source A'), data);
  assert.deepEqual(decodeCodeCache(file, sourceDigest('source A')), data);
  // Same length, other content: V8 alone would take it (it checks only the length).
  assert.equal(decodeCodeCache(file, sourceDigest('source B')), undefined);
});

test('code cache: a source read as bytes has the digest of its text (caches made either way fit)', () => {
  const text = 'const s = "é→"; // non-ASCII too';
  assert.deepEqual(sourceDigest(Buffer.from(text, 'utf8')), sourceDigest(text));
});

test('code cache: a foreign, empty or truncated file gives nothing', () => {
  const digest = sourceDigest('s');
  const good = encodeCodeCache(digest, Buffer.from('data'));
  assert.equal(decodeCodeCache(Buffer.alloc(0), digest), undefined);
  assert.equal(decodeCodeCache(good.subarray(0, 40), digest), undefined);
  const foreign = Buffer.from(good);
  foreign[0] = 0x41;
  assert.equal(decodeCodeCache(foreign, digest), undefined);
});

test('code cache file: written whole, read back, never throws', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'code-cache-unit-'));
  try {
    const cache = new CodeCacheFile(path.join(dir, 'p.cjs.cache'), 'the source');
    assert.equal(cache.read(), undefined, 'none yet');
    assert.equal(cache.write(Buffer.from('abc')), true);
    assert.deepEqual(cache.read(), Buffer.from('abc'));
    assert.equal(new CodeCacheFile(cache.file, 'a changed source').read(), undefined);
    // Writable by others: someone else could have put bytecode there; not used.
    chmodSync(cache.file, 0o666);
    assert.equal(cache.read(), undefined);
    chmodSync(cache.file, 0o644);
    assert.deepEqual(cache.read(), Buffer.from('abc'));
    writeFileSync(cache.file, 'garbage');
    assert.equal(cache.read(), undefined);
    // A directory that does not exist: the write fails quietly and leaves no temporary file.
    const nowhere = new CodeCacheFile(path.join(dir, 'missing', 'p.cjs.cache'), 'the source');
    assert.equal(nowhere.write(Buffer.from('abc')), false);
    assert.equal(readFileSync(cache.file, 'utf8'), 'garbage');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
