/**
 * Typed access to build/netns_native.node (native/netns_native.c): the syscalls Node.js does not
 * expose. Only src/netlink/socket.ts and src/netns/ use it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface NativeSocketHandle {
  readonly fd: number;
  /** The netlink port id the kernel assigned to the socket. */
  readonly portId: number;
}

export interface NamespaceFileInfo {
  dev: number;
  ino: number;
  /** statfs f_type of the file's filesystem; NSFS_MAGIC for namespace files. */
  fsMagic: number;
  /** CLONE_NEW* flag of the namespace (CLONE_NEWNET for network namespaces), 0 if not one. */
  nsType: number;
}

export interface NativeBinding {
  open(
    nsPath: string | null,
    protocol: number,
    receiveBufferBytes: number,
    groups: number[],
    onData: (datagrams: Buffer[]) => void,
    onError: (errno: number) => void,
  ): NativeSocketHandle;
  /** Returns bytes sent, or a negative errno. */
  send(handle: NativeSocketHandle, data: Buffer): number;
  /**
   * As send, with sendmsg() on a thread of libuv's pool: `done` gets the bytes sent or a negative
   * errno. The bytes are copied before it returns. The socket stays open until the last one ends.
   */
  sendAsync(handle: NativeSocketHandle, data: Buffer, done: (result: number) => void): void;
  setPolling(handle: NativeSocketHandle, on: boolean): void;
  /** SO_ATTACH_FILTER: `program` is classic BPF (struct sock_filter[]), run by the kernel on each datagram. */
  attachFilter(handle: NativeSocketHandle, program: Buffer): void;
  /** Reads every datagram queued now; they reach `onData` before this returns. */
  readNow(handle: NativeSocketHandle): void;
  unref(handle: NativeSocketHandle): void;
  ref(handle: NativeSocketHandle): void;
  close(handle: NativeSocketHandle): void;
  deleteNamed(filePath: string): void;
  /** The fd of a fresh network namespace, mounted nowhere (it lives while the fd does). */
  newNamespace(): number;
  /** Names the namespace of `fd` at filePath, as `ip netns add` does (filePath must not exist). */
  bindNamespace(dir: string, filePath: string, fd: number): void;
  /** flock(LOCK_EX|LOCK_NB): true when this process holds the file's lock now, false when another does. */
  lockFile(fd: number): boolean;
  inspect(filePath: string): NamespaceFileInfo;
  currentNamespace(): { dev: number; ino: number };
}

export const NSFS_MAGIC = 0x6e736673;
export const CLONE_NEWNET = 0x40000000;

/** errno-carrying error thrown by the native functions. */
export interface NativeErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isNativeErrnoError(error: unknown): error is NativeErrnoError {
  return error instanceof Error && typeof (error as Partial<NativeErrnoError>).errno === 'number';
}

let loaded: NativeBinding | undefined;

/** Loads the addon on first use, so that pure code importing this module never needs it. */
export function native(): NativeBinding {
  if (loaded === undefined) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    // dist/src/native -> repository root
    const root = path.resolve(here, '../../..');
    const require = createRequire(import.meta.url);
    loaded = require(path.join(root, 'build', 'netns_native.node')) as NativeBinding;
  }
  return loaded;
}
