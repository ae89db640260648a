/**
 * The file-system effects of namespace handling behind one narrow interface, so that resolution,
 * naming and watching can be tested without root (with a fake) and checked on a real kernel (with
 * the native implementation). Every method throws errors carrying an errno code ('ENOENT'...).
 */
import { closeSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { native, type NamespaceFileInfo } from '../native/binding.js';
import { processStartTime } from '../util/process-start.js';

export type { NamespaceFileInfo };

export interface FileStat {
  dev: number;
  ino: number;
  /** A regular file; namespace files are (nsfs gives them mode S_IFREG | 0444). */
  isFile: boolean;
  /** Permission bits (mode & 0o7777): 0 on the file `ip netns add` makes to mount a namespace on. */
  mode: number;
  size: number;
}

export interface NamespaceFiles {
  /**
   * stat(2), following symbolic links (/proc/PID/ns/net is one). Opens nothing. Undefined when
   * there is no such file (ENOENT), without the cost of an exception: watchers ask often.
   */
  stat(path: string): FileStat | undefined;
  /** Whether a directory entry exists at path (lstat: the entry itself, not what it points to). */
  exists(path: string): boolean;
  /** Device, inode, file-system magic and namespace type of the file (opens it read-only). */
  inspect(path: string): NamespaceFileInfo;
  /** Entry names of a directory. */
  list(dir: string): string[];
  /** `ip netns del`: lazy unmount and unlink; a missing path is not an error. */
  deleteNamed(path: string): void;
  /** A fresh network namespace held by the returned fd only (see closeNamespace). */
  newNamespace(): number;
  /**
   * `ip netns add` for the namespace of `fd` (from newNamespace): dir made a shared mount point, the
   * namespace bind-mounted at path; EEXIST when path exists.
   */
  bindNamespace(dir: string, path: string, fd: number): void;
  /** Lets go of newNamespace's fd: a namespace not bound anywhere goes with it. */
  closeNamespace(fd: number): void;
  /** When the process of `pid` started (util/process-start.ts); undefined when none runs. */
  processStartTime?(pid: number): number | undefined;
}

/** The real thing: node:fs and the native addon. */
export const systemFiles: NamespaceFiles = {
  stat(path) {
    const stats = statSync(path, { throwIfNoEntry: false });
    return (
      stats && {
        dev: stats.dev,
        ino: stats.ino,
        isFile: stats.isFile(),
        mode: stats.mode & 0o7777,
        size: stats.size,
      }
    );
  },
  exists(path) {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  },
  inspect(path) {
    return native().inspect(path);
  },
  list(dir) {
    return readdirSync(dir);
  },
  deleteNamed(path) {
    native().deleteNamed(path);
  },
  newNamespace() {
    return native().newNamespace();
  },
  bindNamespace(dir, path, fd) {
    native().bindNamespace(dir, path, fd);
  },
  closeNamespace(fd) {
    closeSync(fd);
  },
  processStartTime,
};
