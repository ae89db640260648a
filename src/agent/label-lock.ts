/**
 * One agent per label on a host. Two agents of one label (on one store, or on two) would both
 * claim the same links, routes and namespaces and undo each other's work; the second one is refused
 * at its start. The lock is a file per label in /run/netns-agent holding the holder's pid and its
 * start time (a pid alone may be reused): a file whose process is gone, an agent killed, is stale
 * and taken over. /run is emptied at boot, as the kernel state is.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AgentError } from '../errors.js';
import { processStartTime } from '../util/process-start.js';

export const LOCK_DIR = '/run/netns-agent';

export class LabelInUseError extends AgentError {
  readonly code = 'ERR_LABEL_IN_USE';
  constructor(
    readonly label: string,
    readonly pid: number,
    file: string,
  ) {
    super(
      `another agent of label ${label} runs on this host (pid ${pid}, ${file}): two would undo each other's work; stop it, or give this one another --label`,
      { field: '--label' },
    );
  }
}

export class LabelLock {
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly content: string,
  ) {}

  /** Takes the label's lock, or throws LabelInUseError naming the agent that holds it. */
  static acquire(label: string, dir = LOCK_DIR): LabelLock {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The label is a key segment: no '/' (checked at the start); encoded anyway, for the file name.
    const file = path.join(dir, `${encodeURIComponent(label)}.lock`);
    const content = `${process.pid} ${processStartTime(process.pid) ?? ''}\n`;
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
        const holder = LabelLock.holder(file);
        if (holder !== undefined && holder !== process.pid) throw new LabelInUseError(label, holder, file);
        unlinkSync(file); // stale: its agent is gone (or it is this very process's, left by a crash of its own)
        continue;
      }
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return new LabelLock(file, content);
    }
  }

  /** The pid of the live process that holds the lock file, undefined when the file is stale. */
  private static holder(file: string): number | undefined {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    const [pidText = '', startTime = ''] = text.trim().split(' ');
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const now = processStartTime(pid);
    return now !== undefined && String(now) === startTime ? pid : undefined;
  }

  /** Lets the lock go (only if the file is still ours). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (readFileSync(this.file, 'utf8') === this.content) unlinkSync(this.file);
    } catch {
      // gone already
    }
  }
}
