/**
 * Files of the agent's state directory (the book of originals, the last valid values): read only
 * when this user owns them and no one else may write them, written whole and atomically (a new
 * temporary file, synced, renamed over the old one, the directory synced), so a crash or a power
 * cut leaves the old file or the new one.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectories } from '../util/make-directories.js';

/** S_ISVTX: in a sticky directory (/tmp) only a file's owner may rename or remove it. */
const STICKY = 0o1000;

/** The file's text, when this user owns it (not through a symbolic link) and only it may write it. */
export function readOwnFile(file: string): string {
  return withOwnFile(file, (fd) => readFileSync(fd, 'utf8'));
}

function withOwnFile<T>(file: string, use: (fd: number) => T): T {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    const uid = process.geteuid?.() ?? stat.uid;
    if (stat.uid !== uid || (stat.mode & 0o022) !== 0)
      throw new Error(
        `not owned by uid ${uid}, or writable by others (mode ${(stat.mode & 0o777).toString(8)})`,
      );
    const dir = statSync(path.dirname(file));
    if ((dir.mode & 0o002) !== 0 && (dir.mode & STICKY) === 0)
      throw new Error(`its directory is writable by anyone (mode ${(dir.mode & 0o7777).toString(8)})`);
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

function temporaryFor(file: string): string {
  return `${file}.${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * Temporary files of `file` a crash left behind (between their creation and their rename): this
 * user's regular files named as temporaryFor names them. Only their owner writes such files, and
 * it calls this before its first write.
 */
export function removeLeftovers(file: string): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const uid = process.geteuid?.();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !/^\.[0-9a-f]{12}\.tmp$/.test(name.slice(base.length))) continue;
    const leftover = path.join(dir, name);
    try {
      const stat = lstatSync(leftover);
      if (stat.isFile() && (uid === undefined || stat.uid === uid)) rmSync(leftover, { force: true });
    } catch {
      // Gone meanwhile, or not ours to remove: left alone.
    }
  }
}

/** Removes `file`, and syncs its directory so the removal survives a power cut as a write would. */
export function removeDurably(file: string): void {
  rmSync(file, { force: true });
  syncDirectory(path.dirname(file));
}

/** The same off the event loop's thread. */
export async function removeDurablyAsync(file: string): Promise<void> {
  await rm(file, { force: true });
  let dirHandle;
  try {
    dirHandle = await open(path.dirname(file), constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

function syncDirectory(dir: string): void {
  let dirFd: number;
  try {
    dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Replaces `file` with `text` atomically, synchronously (before a request that depends on it). */
export function writeAtomically(file: string, text: string): void {
  const dir = path.dirname(file);
  makeDirectories(dir, 0o700);
  const temporary = temporaryFor(file);
  try {
    // O_EXCL: a new file of ours, never one (or a link) someone put there.
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  syncDirectory(dir);
}

/**
 * The same off the event loop's thread (the writing and syncing run in libuv's pool). `sync: false`:
 * not synced, for a file whose loss in a power cut is accepted (a crash of the agent still leaves
 * the old file or the new one whole).
 */
export async function writeAtomicallyAsync(
  file: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  const sync = options.sync !== false;
  const dir = path.dirname(file);
  makeDirectories(dir, 0o700); // a few stat() calls: not worth a trip to the pool
  const temporary = temporaryFor(file);
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  if (!sync) return;
  const dirHandle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * What a state file holds, for its owner to parse: `text` undefined when there is none yet;
 * `usable` false when it exists but must be neither used nor overwritten (told to `onError`).
 */
export function readStateFile(
  file: string,
  inMemory: string,
  onError?: (message: string, error?: unknown) => void,
): { text?: string; usable: boolean } {
  try {
    const text = readOwnFile(file);
    removeLeftovers(file);
    return { text, usable: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      removeLeftovers(file);
      return { usable: true };
    }
    onError?.(`cannot use ${file}; ${inMemory}`, error);
    return { usable: false };
  }
}

/** A state file that does not parse: renamed `.bad` (false when even that fails: left alone). */
export function setAside(
  file: string,
  error: unknown,
  onError?: (message: string, error?: unknown) => void,
): boolean {
  onError?.(`${file} cannot be used; set aside as ${file}.bad`, error);
  try {
    renameSync(file, `${file}.bad`);
    return true;
  } catch {
    return false;
  }
}

/** Whether a state file may be written: it does not exist yet, or it passes readOwnFile's checks. */
export function checkStateFile(
  file: string,
  inMemory: string,
  onError?: (message: string, error?: unknown) => void,
): boolean {
  try {
    withOwnFile(file, () => undefined);
    removeLeftovers(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      removeLeftovers(file);
      return true;
    }
    onError?.(`cannot use ${file}; ${inMemory}`, error);
    return false;
  }
}

/**
 * The latest state of a file, written off the event loop, one write at a time: a change while a
 * write runs is written after it (once, however many came). `text()` undefined: no file.
 */
export class LatestStateWrite {
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly file: string,
    private readonly text: () => string | undefined,
    private readonly onError?: (message: string, error?: unknown) => void,
  ) {}

  request(): void {
    this.dirty = true;
    this.writing ??= this.loop();
  }

  /** Resolves once the writes asked for so far are done. */
  async settled(): Promise<void> {
    await this.writing;
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const text = this.text();
        try {
          if (text === undefined) await removeDurablyAsync(this.file);
          else await writeAtomicallyAsync(this.file, text);
        } catch (error) {
          this.onError?.(`cannot write ${this.file}`, error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
