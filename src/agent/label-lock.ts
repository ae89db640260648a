/**
 * One agent per label on a host. Two agents of one label (on one store, or on two) would both
 * claim the same links, routes and namespaces and undo each other's work; the second one is refused
 * as it starts. The lock is the kernel's (flock) on a file per label in /run/netns-agent: released
 * when the agent's process ends, however it ends, so there is never a stale lock to judge. The file
 * holds the pid of the agent that has it, for the message. The holder removes it as it lets go (an
 * agent killed leaves it, for the next one to take); a taker that locked a file removed meanwhile,
 * no longer the one under that name, lets go and tries again, so two can never hold one label.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
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
    for (;;) {
      const fd = openSync(file, 'a+', 0o600);
      try {
        if (!native().lockFile(fd)) {
          let pid = Number.NaN;
          try {
            pid = Number(readFileSync(file, 'utf8').trim());
          } catch {
            // removed as its holder let go: the pid is not known
          }
          throw new LabelInUseError(label, Number.isInteger(pid) && pid > 0 ? pid : undefined, file);
        }
        // Locked a file its holder removed as it let go: not the lock of that name any more.
        const here = statSync(file, { throwIfNoEntry: false });
        const locked = fstatSync(fd);
        if (here === undefined || here.ino !== locked.ino || here.dev !== locked.dev) {
          closeSync(fd);
          continue;
        }
        ftruncateSync(fd, 0);
        writeSync(fd, `${process.pid}\n`);
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      return new LabelLock(file, fd);
    }
  }

  /** Lets the lock go, removing its file first (while still holding it). Idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      unlinkSync(this.file);
    } catch {
      // gone already: nothing to remove
    }
    closeSync(fd);
  }
}
