/**
 * An in-memory NamespaceFiles for unit tests: paths map to namespace files, ordinary files,
 * directories or errors; calls are counted so tests can tell which effects ran.
 */
import { CLONE_NEWNET, NSFS_MAGIC } from '../../../src/native/binding.js';
import type { FileStat, NamespaceFileInfo, NamespaceFiles } from '../../../src/netns/index.js';

export const EXT4_MAGIC = 0xef53;
export const CLONE_NEWNS = 0x00020000;

export type FakeEntry =
  | { kind: 'namespace'; ino: number; nsType?: number }
  | { kind: 'file'; fsMagic?: number; mode?: number; size?: number }
  | { kind: 'directory' }
  | { kind: 'error'; code: string };

export function errnoError(code: string, syscall = 'open'): Error {
  return Object.assign(new Error(`${syscall}: ${code}`), { code, syscall, errno: 1 });
}

export class FakeFiles implements NamespaceFiles {
  readonly entries = new Map<string, FakeEntry>();
  readonly calls: string[] = [];
  /** The error making a namespace throws (newNamespace), if any. */
  createError: string | undefined;
  private nextIno = 4026532000;

  set(path: string, entry: FakeEntry): this {
    this.entries.set(path, entry);
    return this;
  }

  namespace(path: string, ino = this.nextIno++): number {
    this.entries.set(path, { kind: 'namespace', ino });
    return ino;
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }

  private lookup(path: string, syscall: string): FakeEntry {
    const entry = this.entries.get(path);
    if (entry === undefined) throw errnoError('ENOENT', syscall);
    if (entry.kind === 'error') throw errnoError(entry.code, syscall);
    return entry;
  }

  stat(path: string): FileStat | undefined {
    this.calls.push('stat');
    if (!this.entries.has(path)) return undefined;
    const entry = this.lookup(path, 'stat');
    switch (entry.kind) {
      case 'namespace':
        return { dev: 4, ino: entry.ino, isFile: true, mode: 0o444, size: 0 };
      case 'file':
        return { dev: 2049, ino: 12, isFile: true, mode: entry.mode ?? 0o644, size: entry.size ?? 0 };
      default:
        return { dev: 2049, ino: 13, isFile: false, mode: 0o755, size: 4096 };
    }
  }

  exists(path: string): boolean {
    this.calls.push('exists');
    return this.entries.has(path);
  }

  inspect(path: string): NamespaceFileInfo {
    this.calls.push('inspect');
    const entry = this.lookup(path, 'open');
    if (entry.kind === 'namespace') {
      return { dev: 4, ino: entry.ino, fsMagic: NSFS_MAGIC, nsType: entry.nsType ?? CLONE_NEWNET };
    }
    return {
      dev: 2049,
      ino: 12,
      fsMagic: entry.kind === 'file' ? (entry.fsMagic ?? EXT4_MAGIC) : EXT4_MAGIC,
      nsType: 0,
    };
  }

  list(dir: string): string[] {
    this.calls.push('list');
    const names: string[] = [];
    let found = false;
    for (const path of this.entries.keys()) {
      if (path === dir) found = true;
      if (path.startsWith(`${dir}/`)) names.push(path.slice(dir.length + 1));
    }
    if (!found && names.length === 0) throw errnoError('ENOENT', 'scandir');
    return names.reverse();
  }

  /** Start time (clock ticks after boot) of each running process, by pid, where a test sets one. */
  readonly processStarts = new Map<number, number>();

  processStartTime(pid: number): number | undefined {
    return this.processStarts.get(pid);
  }

  deleteNamed(path: string): void {
    this.calls.push('deleteNamed');
    this.entries.delete(path);
  }

  /** Fresh namespaces by fake fd, until bound or closed. */
  readonly unbound = new Map<number, number>();
  private nextFd = 100;

  newNamespace(): number {
    this.calls.push('newNamespace');
    if (this.createError !== undefined) throw errnoError(this.createError, 'unshare');
    const fd = this.nextFd++;
    this.unbound.set(fd, this.nextIno++);
    return fd;
  }

  bindNamespace(_dir: string, path: string, fd: number): void {
    this.calls.push('bindNamespace');
    const ino = this.unbound.get(fd);
    if (ino === undefined) throw errnoError('EBADF', 'mount');
    if (this.entries.has(path)) throw errnoError('EEXIST', 'open');
    this.namespace(path, ino);
  }

  closeNamespace(fd: number): void {
    this.calls.push('closeNamespace');
    this.unbound.delete(fd);
  }
}
