/** One agent per label on a host (src/agent/label-lock.ts): taken, refused while held, free again. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabelInUseError, LabelLock } from '../../../src/agent/label-lock.js';

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'label-lock-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('LabelLock', () => {
  test('taken, with this pid in its file; held, it refuses another taker (naming the pid); closed, free again', () =>
    withDir((dir) => {
      const lock = LabelLock.acquire('l1', dir);
      assert.equal(readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
      // A second open file of the same lock is another taker, even in this process (flock).
      assert.throws(
        () => LabelLock.acquire('l1', dir),
        (error: unknown) =>
          error instanceof LabelInUseError &&
          error.code === 'ERR_LABEL_IN_USE' &&
          error.pid === process.pid &&
          new RegExp(`another agent of label l1 runs on this host \\(pid ${process.pid},`).test(
            error.message,
          ),
      );
      LabelLock.acquire('l2', dir).close(); // another label, another lock
      lock.close();
      assert.equal(existsSync(lock.file), false, 'its file removed as it lets go');
      lock.close();
      LabelLock.acquire('l1', dir).close();
    }));

  test('a file locked after its holder removed it is no lock of that name: taken again, afresh', () =>
    withDir((dir) => {
      const first = LabelLock.acquire('l4', dir);
      // The first holder lets go (removes, closes) while a second one has the old file open: the
      // second must not hold a lock on a file no longer under the name.
      first.close();
      const second = LabelLock.acquire('l4', dir);
      assert.equal(readFileSync(second.file, 'utf8'), `${process.pid}\n`);
      assert.ok(existsSync(second.file));
      second.close();
    }));

  test('a file left by an agent that is gone is no lock: taken, its content replaced', () =>
    withDir((dir) => {
      writeFileSync(path.join(dir, 'l3.lock'), '999999999\nleft over\n');
      const lock = LabelLock.acquire('l3', dir);
      assert.equal(readFileSync(lock.file, 'utf8'), `${process.pid}\n`);
      lock.close();
    }));
});
