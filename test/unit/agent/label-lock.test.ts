/** One agent per label on a host (src/agent/label-lock.ts): taken, refused, stale, given back. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabelInUseError, LabelLock } from '../../../src/agent/label-lock.js';
import { processStartTime } from '../../../src/util/process-start.js';

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'label-lock-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('LabelLock', () => {
  test('taken with this pid and start time; closing lets it go, once', () =>
    withDir((dir) => {
      const lock = LabelLock.acquire('l1', dir);
      assert.equal(readFileSync(lock.file, 'utf8'), `${process.pid} ${processStartTime(process.pid)}\n`);
      lock.close();
      assert.equal(existsSync(lock.file), false);
      lock.close();
      LabelLock.acquire('l1', dir).close(); // free again
    }));

  test('held by another live process: refused, naming its pid', () =>
    withDir((dir) => {
      // pid 1 runs on every system; its start time is what the holder wrote.
      writeFileSync(path.join(dir, 'l2.lock'), `1 ${processStartTime(1)}\n`);
      assert.throws(
        () => LabelLock.acquire('l2', dir),
        (error: unknown) =>
          error instanceof LabelInUseError &&
          error.code === 'ERR_LABEL_IN_USE' &&
          error.pid === 1 &&
          /another agent of label l2 runs on this host \(pid 1,/.test(error.message),
      );
      // Another label is another lock.
      LabelLock.acquire('l3', dir).close();
    }));

  test('stale (its process gone, or its pid now another process): taken over', () =>
    withDir((dir) => {
      const file = path.join(dir, 'l4.lock');
      for (const content of ['999999999 12345\n', `1 ${Number(processStartTime(1)) + 1}\n`, 'garbage']) {
        writeFileSync(file, content);
        const lock = LabelLock.acquire('l4', dir);
        assert.match(readFileSync(file, 'utf8'), new RegExp(`^${process.pid} `));
        lock.close();
      }
    }));

  test('closing leaves a lock that is no longer its own alone', () =>
    withDir((dir) => {
      const lock = LabelLock.acquire('l5', dir);
      writeFileSync(lock.file, `1 ${processStartTime(1)}\n`);
      lock.close();
      assert.equal(existsSync(lock.file), true);
    }));
});
