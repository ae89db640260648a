/**
 * Watches whether a set of namespace references can be reached, and tells when one becomes
 * available, goes, or is replaced by another namespace under the same reference (a named namespace
 * deleted and created again, a pid reused). Named references are watched through their directory
 * (inotify, via fs.watch) plus a periodic re-check, as directory events can be missed and mounting
 * a namespace on its file makes none; pid and file references by the periodic check alone.
 *
 * A check is one stat(2) per reference when nothing changed, so hundreds of references cost little.
 * Identity is the nsfs inode, which the kernel may hand to a new namespace once the old one is
 * freed: a delete and re-create both between two checks, reusing the inode, would go unnoticed for
 * pid and file references (named ones see the directory events).
 */
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { AgentError, ClosedError } from '../errors.js';
import { NamespaceNotFoundError, NamespaceProcessExitedError, NamespaceSystemError } from './errors.js';
import { systemFiles, type FileStat, type NamespaceFiles } from './files.js';
import { sameNamespace, type NamespaceIdentity } from './identity.js';
import { NAMED_NAMESPACE_DIR, describeRef, refKey, type NamespaceRef } from './ref.js';
import { inspectNamespaceFile, pathOf } from './resolve.js';

export interface NamespaceAvailable {
  readonly ref: NamespaceRef;
  readonly path: string;
  readonly identity: NamespaceIdentity;
}

export interface NamespaceGone {
  readonly ref: NamespaceRef;
  readonly path: string;
  /** The identity it had while available. */
  readonly previous: NamespaceIdentity;
}

export interface NamespaceReplaced extends NamespaceAvailable {
  readonly previous: NamespaceIdentity;
}

/**
 * `replaced` is emitted when one check sees a different namespace than the one before; when a check
 * sees it missing in between, the events are `gone`, then `available`.
 */
export interface NamespaceWatcherEvents {
  available: [NamespaceAvailable];
  gone: [NamespaceGone];
  replaced: [NamespaceReplaced];
}

export interface NamespaceStatus {
  readonly ref: NamespaceRef;
  readonly path: string;
  /** Set while the namespace is available. */
  readonly identity: NamespaceIdentity | undefined;
  /** Why it is not available (NamespaceNotFoundError, NotANamespaceError...), for pending reasons. */
  readonly error: AgentError | undefined;
  /** Of a pid reference: the start time of the process it means (see identityOfProcess), once known. */
  readonly processStarted?: number;
}

/**
 * Something that reports changes in a directory; fs.watch by default. Throws if it cannot watch;
 * calls `onError` if it stops (the directory removed or unmounted): the next check watches again.
 */
export type DirectoryWatch = (
  dir: string,
  onChange: (name: string | undefined) => void,
  onError?: () => void,
) => { close(): void };

export interface NamespaceWatcherOptions {
  /** Period of the re-check of every reference; 250 ms by default. */
  intervalMs?: number;
  /** Delay of the extra check after a directory event, for the mount that follows a file's creation. */
  settleMs?: number;
  files?: NamespaceFiles;
  /** Where named namespaces live; /var/run/netns unless a test says otherwise. */
  namedDir?: string;
  /** How to watch the named directory; false: periodic checks only. */
  directoryWatch?: DirectoryWatch | false;
  /**
   * The start time of the process a pid reference meant, remembered from an earlier run (the
   * agent's state directory): a pid reused while the agent was down reaches nothing of it.
   */
  rememberedProcessStart?: (pid: number) => number | undefined;
}

interface Entry {
  ref: NamespaceRef;
  path: string;
  identity: NamespaceIdentity | undefined;
  error: AgentError | undefined;
  /** A pid reference: the start time of the process first seen with it (it alone is meant). */
  processStarted?: number;
}

const fsDirectoryWatch: DirectoryWatch = (dir, onChange, onError) => {
  const watcher = watch(dir, { persistent: false }, (_event, name) => onChange(name ?? undefined));
  // The directory can be removed or unmounted; the periodic check then watches it again.
  watcher.on('error', () => {
    watcher.close();
    onError?.();
  });
  return watcher;
};

export class NamespaceWatcher extends EventEmitter<NamespaceWatcherEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly files: NamespaceFiles;
  private readonly namedDir: string;
  private readonly directoryWatch: DirectoryWatch | false;
  private readonly settleMs: number;
  private readonly rememberedProcessStart: ((pid: number) => number | undefined) | undefined;
  private readonly timer: NodeJS.Timeout;
  private settleTimer: NodeJS.Timeout | undefined;
  private dirWatcher: { close(): void } | undefined;
  private closed = false;

  constructor(options: NamespaceWatcherOptions = {}) {
    super();
    this.files = options.files ?? systemFiles;
    this.namedDir = options.namedDir ?? NAMED_NAMESPACE_DIR;
    this.directoryWatch = options.directoryWatch ?? fsDirectoryWatch;
    this.settleMs = options.settleMs ?? 50;
    this.rememberedProcessStart = options.rememberedProcessStart;
    this.timer = setInterval(() => this.check(), options.intervalMs ?? 250);
    this.timer.unref();
  }

  /**
   * Starts watching a reference (a second add of the same one changes nothing) and returns its
   * status now; events carry the reference as it was added (normalizeRef() first to treat a file
   * in /run/netns as the named namespace it is). When it is available, `available` is emitted
   * before add() returns: listen first.
   * Throws InvalidNamespaceNameError / InvalidNamespaceRefError for references that cannot be valid.
   */
  add(ref: NamespaceRef): NamespaceStatus {
    if (this.closed) throw new ClosedError('namespace watcher');
    const key = refKey(ref);
    const known = this.entries.get(key);
    if (known) return this.statusOf(known);
    const entry: Entry = {
      ref,
      path: pathOf(ref, this.namedDir),
      identity: undefined,
      error: undefined,
    };
    this.entries.set(key, entry);
    if (ref.kind === 'named') this.ensureDirectoryWatch();
    this.checkEntry(entry);
    return this.statusOf(entry);
  }

  /**
   * Of a pid reference: forgets the process it meant, so that the process that has the pid at the
   * next check is the one meant (the configuration named the pid anew).
   */
  forgetProcessStart(ref: NamespaceRef & { kind: 'pid' }): void {
    const entry = this.entries.get(refKey(ref));
    if (entry) delete entry.processStarted;
  }

  /** Stops watching a reference; no event. */
  remove(ref: NamespaceRef): void {
    this.entries.delete(refKey(ref));
  }

  /**
   * Watches exactly these references: adds the new ones, removes the others. All are validated
   * before anything changes.
   */
  set(refs: Iterable<NamespaceRef>): void {
    const wanted = new Map<string, NamespaceRef>();
    for (const ref of refs) {
      pathOf(ref, this.namedDir);
      wanted.set(refKey(ref), ref);
    }
    for (const key of [...this.entries.keys()]) if (!wanted.has(key)) this.entries.delete(key);
    for (const ref of wanted.values()) this.add(ref);
  }

  /** The status of a watched reference, undefined when it is not watched. */
  status(ref: NamespaceRef): NamespaceStatus | undefined {
    const entry = this.entries.get(refKey(ref));
    return entry && this.statusOf(entry);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Checks every reference now (the timer and directory events call this too). */
  check(): void {
    if (this.closed) return;
    let named = false;
    for (const entry of [...this.entries.values()]) {
      named ||= entry.ref.kind === 'named';
      this.checkEntry(entry);
    }
    if (named) this.ensureDirectoryWatch();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.dirWatcher?.close();
    this.dirWatcher = undefined;
    this.entries.clear();
  }

  private statusOf(entry: Entry): NamespaceStatus {
    const { ref, path, identity, error, processStarted } = entry;
    return processStarted === undefined
      ? { ref, path, identity, error }
      : { ref, path, identity, error, processStarted };
  }

  private checkEntry(entry: Entry): void {
    const before = entry.identity;
    const now = this.identityOf(entry);
    // The listener of an event may remove this very reference; then it says nothing more.
    if (sameNamespace(before, now) || this.entries.get(refKey(entry.ref)) !== entry) return;
    entry.identity = now;
    const { ref, path } = entry;
    if (before !== undefined && now !== undefined)
      this.emit('replaced', { ref, path, identity: now, previous: before });
    else if (before !== undefined) this.emit('gone', { ref, path, previous: before });
    else if (now !== undefined) this.emit('available', { ref, path, identity: now });
  }

  /**
   * The identity now, or undefined with entry.error saying why. Cheap in the common cases: one
   * stat(2) when the file is still the namespace seen last time, or still missing.
   */
  private identityOf(entry: Entry): NamespaceIdentity | undefined {
    if (entry.ref.kind === 'default' && entry.identity !== undefined) return entry.identity;
    if (entry.ref.kind === 'pid') return this.identityOfProcess(entry, entry.ref.pid);
    return this.identityOfFile(entry);
  }

  /**
   * A pid reference means the process first seen with it: once that one exits, the pid (reused by
   * the kernel for another process, maybe in the host's namespace) reaches nothing of it.
   */
  private identityOfProcess(entry: Entry, pid: number): NamespaceIdentity | undefined {
    entry.processStarted ??= this.rememberedProcessStart?.(pid);
    const started = this.files.processStartTime?.(pid);
    if (entry.processStarted !== undefined && started !== entry.processStarted) {
      entry.error = new NamespaceProcessExitedError(describeRef(entry.ref), pid, started !== undefined);
      return undefined;
    }
    const identity = this.identityOfFile(entry);
    if (identity === undefined || started === undefined) return identity;
    // The pid handed to another process between the two looks: that namespace may be its.
    if (this.files.processStartTime?.(pid) !== started) return undefined;
    entry.processStarted ??= started;
    return identity;
  }

  private identityOfFile(entry: Entry): NamespaceIdentity | undefined {
    let stat: FileStat | undefined | null;
    try {
      stat = this.files.stat(entry.path);
    } catch {
      stat = null; // the full inspection below says what is wrong, with the right error
    }
    if (stat === undefined && entry.error instanceof NamespaceNotFoundError) return undefined;
    if (stat && stat.isFile && sameNamespace(stat, entry.identity)) return entry.identity;
    try {
      const identity = inspectNamespaceFile(entry.path, describeRef(entry.ref), this.files);
      entry.error = undefined;
      return identity;
    } catch (error) {
      entry.error =
        error instanceof AgentError
          ? error
          : new NamespaceSystemError(describeRef(entry.ref), 'EUNKNOWN', undefined, { cause: error });
      return undefined;
    }
  }

  private ensureDirectoryWatch(): void {
    if (this.dirWatcher || this.directoryWatch === false || this.closed) return;
    try {
      const dirWatcher = this.directoryWatch(
        this.namedDir,
        (name) => this.onDirectoryChange(name),
        () => {
          if (this.dirWatcher === dirWatcher) this.dirWatcher = undefined;
        },
      );
      this.dirWatcher = dirWatcher;
    } catch {
      // No directory yet (no named namespace was ever made): the periodic check tries again.
    }
  }

  private onDirectoryChange(name: string | undefined): void {
    if (this.closed) return;
    this.checkNamed(name);
    // `ip netns add` creates the file, then mounts the namespace on it, which makes no event.
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.checkNamed(undefined);
    }, this.settleMs);
    this.settleTimer.unref();
  }

  private checkNamed(name: string | undefined): void {
    if (this.closed) return;
    if (name !== undefined) {
      const entry = this.entries.get(refKey({ kind: 'named', name }));
      if (entry) this.checkEntry(entry);
      return;
    }
    for (const entry of [...this.entries.values()]) if (entry.ref.kind === 'named') this.checkEntry(entry);
  }
}
