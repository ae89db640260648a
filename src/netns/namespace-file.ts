/**
 * A namespace file kept open and lent to the requests that name it (IFLA_NET_NS_FD: a VETH peer born
 * there, a TAP moved there). Its owner's close() lets it go only once no borrower is in flight: a
 * request is sent after it is queued, and a number closed meanwhile could by then be reused for the
 * file of another namespace, where the link would land.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { NamespaceNotFoundError } from './errors.js';
import type { NamespaceIdentity } from './identity.js';

/** How a file is opened and closed: the system's calls, or a test's. */
export interface FileDescriptors {
  open(path: string): number;
  close(fd: number): void;
}

const systemDescriptors: FileDescriptors = {
  open: (path) => openSync(path, 'r'),
  close: (fd) => closeSync(fd),
};

export class NamespaceFile {
  private fd: number | undefined;
  private borrowers = 0;
  private closing = false;

  /** Opens the file now; throws as `open(2)` does. */
  constructor(
    readonly path: string,
    private readonly description: string,
    private readonly descriptors: FileDescriptors = systemDescriptors,
  ) {
    this.fd = descriptors.open(path);
  }

  /**
   * The namespace the file was when it was opened (device and inode of the open file, as stat(2)
   * of its path gave then): the path may show another one since. Undefined once closed.
   */
  identity(): NamespaceIdentity | undefined {
    if (this.fd === undefined) return undefined;
    const { dev, ino } = fstatSync(this.fd);
    return { dev, ino };
  }

  /**
   * A path to this very namespace while the file is open (/proc/self/fd/N): sockets opened through
   * it are in the namespace the file was opened on, whatever its own path shows by then.
   */
  get openPath(): string | undefined {
    return this.fd === undefined ? undefined : `/proc/self/fd/${this.fd}`;
  }

  /** True while borrowers may still use it. */
  get open(): boolean {
    return !this.closing;
  }

  /**
   * Runs a request that names the file; it stays open until the request settles. Once closed:
   * NamespaceNotFoundError (retriable: the namespace's view is gone, and so is the namespace, or
   * a new one will come under a new view).
   */
  async use<T>(run: (fd: number) => Promise<T>): Promise<T> {
    if (this.closing || this.fd === undefined)
      throw new NamespaceNotFoundError(`${this.description} (its view was closed)`, { path: this.path });
    this.borrowers += 1;
    try {
      return await run(this.fd);
    } finally {
      this.borrowers -= 1;
      if (this.closing && this.borrowers === 0) this.release();
    }
  }

  /** Idempotent; the file itself closes when the last borrower is done. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.borrowers === 0) this.release();
  }

  private release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.descriptors.close(fd);
  }
}
