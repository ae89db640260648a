/**
 * One agent per label on a host. Two agents of one label (on one store, or on two) would both
 * claim the same links, routes and namespaces and undo each other's work; the second one is refused
 * as it starts. The lock is the kernel's (flock) on a file per label in /run/netns-agent: released
 * when the agent's process ends, however it ends, so there is never a stale lock to judge. The file
 * holds the pid of the agent that has it, for the message; it is never removed (removing a lock
 * file lets two processes lock two different files of one name).
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AgentError } from '../errors.js';
import { native } from '../native/binding.js';

export const LOCK_DIR = '/run/netns-agent';

export class LabelInUseError extends AgentError {
  readonly code = 'ERR_LABEL_IN_USE';
  constructor(
    readonly label: string,
    readonly pid: number | undefined,
    file: string,
  ) {
    super(
      `another agent of label ${label} runs on this host (pid ${pid ?? 'unknown'}, ${file}): two would undo each other's work; stop it, or give this one another --label`,
      { field: '--label' },
    );
  }
}

export class LabelLock {
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Takes the label's lock, or throws LabelInUseError naming the agent that holds it. */
  static acquire(label: string, dir = LOCK_DIR): LabelLock {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The label is a key segment (no '/'); encoded anyway, for the file name.
    const file = path.join(dir, `${encodeURIComponent(label)}.lock`);
    const fd = openSync(file, 'a+', 0o600);
    try {
      if (!native().lockFile(fd)) {
        const pid = Number(readFileSync(file, 'utf8').trim());
        throw new LabelInUseError(label, Number.isInteger(pid) && pid > 0 ? pid : undefined, file);
      }
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return new LabelLock(file, fd);
  }

  /** Lets the lock go. Idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
