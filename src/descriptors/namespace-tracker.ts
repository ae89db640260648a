/**
 * Watches the namespaces the configuration references and tells when each becomes available (with
 * its identity: device and inode of the namespace file), is replaced by a new one under the same
 * reference, or goes. vpp-agent never tracked pid/file namespaces: a dead process left its items
 * failing for good; here they go pending and come back with the namespace.
 *
 * The watching itself is src/netns's NamespaceWatcher (named namespaces through /var/run/netns and
 * a check soon after each change there, as `ip netns add` mounts the namespace after creating its
 * file; every reference by a periodic check). This adds what the configuration's references need:
 * their ids, and microservices, watched as their container's process while it runs (the Docker
 * watcher says when that changes; the periodic check looks up the pid again too).
 */
import { EventEmitter } from 'node:events';
import {
  NamespaceNotFoundError,
  NamespaceWatcher,
  identityKey,
  normalizeRef,
  refKey,
  type NamespaceRef as WatchedRef,
} from '../netns/index.js';
import { describeNamespace, namespaceId, type NamespaceRef } from '../model/index.js';
import type { NamespaceLocation } from './namespace-views.js';

interface TrackerEvents {
  available: [NamespaceLocation];
  /** `unreferenced`: the configuration stopped using it (it may still exist). */
  gone: [string, 'vanished' | 'unreferenced'];
}

export interface MicroserviceSource {
  /** Host pid of the container's init process, when it runs. */
  pidOf(label: string): number | undefined;
}

/** What a reference is watched as now; undefined while it cannot be known (microservice not running). */
function watchedRefOf(
  ref: NamespaceRef,
  microservices: MicroserviceSource | undefined,
): WatchedRef | undefined {
  switch (ref.kind) {
    case 'default':
    case 'named':
    case 'pid':
      return ref;
    case 'file':
      // A file in /var/run/netns is a named namespace: watched through that directory's events.
      return normalizeRef(ref);
    case 'microservice': {
      const pid = microservices?.pidOf(ref.label);
      return pid === undefined ? undefined : { kind: 'pid', pid };
    }
  }
}

export class NamespaceTracker extends EventEmitter<TrackerEvents> {
  /** The configuration's references, by id. */
  private readonly refs = new Map<string, NamespaceRef>();
  /** What each id is watched as now. */
  private readonly watchedAs = new Map<string, WatchedRef>();
  /** What the watcher watches (by refKey): each id's watchedAs, once. */
  private watchedSet = new Map<string, WatchedRef>();
  /** Counts syncWatched calls (one can happen inside another, from a listener). */
  private syncs = 0;
  /** The identity each available id was announced with. */
  private readonly known = new Map<string, string>();
  private readonly watcher: NamespaceWatcher;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly microservices?: MicroserviceSource,
    private readonly intervalMs = 250,
    /** Of a `pid/N` id: the start time of its process when an earlier run used it (UsedNamespaces). */
    rememberedProcessStart?: (id: string) => number | undefined,
  ) {
    super();
    // The periodic check is this tracker's (it looks up microservices' pids again first); the
    // watcher's own is only a fallback.
    this.watcher = new NamespaceWatcher({
      intervalMs: 60_000,
      // Only for a pid the configuration names as such: a container's pid is looked up afresh.
      rememberedProcessStart: (pid) =>
        this.refs.get(`pid/${pid}`)?.kind === 'pid' ? rememberedProcessStart?.(`pid/${pid}`) : undefined,
    });
    const changed = ({ ref }: { ref: WatchedRef }): void => this.evaluateWatchedAs(refKey(ref));
    this.watcher.on('available', changed);
    this.watcher.on('gone', changed);
    this.watcher.on('replaced', changed);
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** Sets the references to watch (those the configuration uses now). */
  setReferences(refs: NamespaceRef[]): void {
    if (this.closed) return;
    const wanted = new Map(refs.map((r) => [namespaceId(r), r]));
    for (const id of [...this.refs.keys()]) {
      if (wanted.has(id)) continue;
      this.refs.delete(id);
      this.watchedAs.delete(id);
      if (this.known.delete(id)) this.emit('gone', id, 'unreferenced');
    }
    for (const [id, ref] of wanted) this.refs.set(id, ref);
    this.check();
  }

  /**
   * The namespace announced for an id could not be opened (its file shows another one now, or the
   * open failed): forgotten, so that the next check announces the namespace there then, whichever
   * it is (the same one again after a bind mount over the file came and went, which makes no change
   * to see, or after a failure that passed). Only while `identity` is what was announced last.
   */
  forgetAnnounced(id: string, identity: string): void {
    if (this.known.get(id) === identity) this.known.delete(id);
  }

  isReferenced(id: string): boolean {
    return this.refs.has(id);
  }

  /**
   * Why a referenced namespace that is there in some form is not available, e.g. a file that is
   * not (yet) a network namespace; undefined when it is available, or simply not there yet.
   */
  problem(id: string): string | undefined {
    const watched = this.watchedAs.get(id);
    const status = watched === undefined ? undefined : this.watcher.status(watched);
    if (!status || status.identity !== undefined || status.error === undefined) return undefined;
    return status.error instanceof NamespaceNotFoundError ? undefined : status.error.message;
  }

  /** Of a `pid/N` id: the start time of the process it means, once known. */
  processStartOf(id: string): number | undefined {
    const ref = this.refs.get(id);
    if (ref?.kind !== 'pid') return undefined;
    return this.watcher.status(ref)?.processStarted;
  }

  /** Of a `pid/N` id: the process it meant is forgotten (see NamespaceWatcher.forgetProcessStart). */
  forgetProcessStart(id: string): void {
    const ref = this.refs.get(id);
    if (ref?.kind === 'pid') this.watcher.forgetProcessStart(ref);
  }

  /** Checks every reference now (also called on Docker events and periodically). */
  check(): void {
    if (this.closed) return;
    this.syncWatched();
    this.watcher.check();
    for (const id of [...this.refs.keys()]) this.evaluate(id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher.close();
    this.removeAllListeners();
  }

  /** Points each id at what it is watched as now, and has the watcher watch exactly those. */
  private syncWatched(): void {
    const wanted = new Map<string, WatchedRef>();
    for (const [id, ref] of this.refs) {
      const watched = watchedRefOf(ref, this.microservices);
      if (watched === undefined) this.watchedAs.delete(id);
      else {
        this.watchedAs.set(id, watched);
        wanted.set(refKey(watched), watched);
      }
    }
    for (const [key, watched] of this.watchedSet) if (!wanted.has(key)) this.watcher.remove(watched);
    this.watchedSet = wanted;
    const generation = ++this.syncs;
    for (const watched of wanted.values()) {
      // A listener of an event add() emits may have changed the references: that sync is newer.
      if (this.syncs !== generation) return;
      try {
        this.watcher.add(watched); // may announce it at once: evaluated below anyway
      } catch {
        // a reference the watcher refuses (the model validated it already): never available
      }
    }
  }

  private evaluateWatchedAs(key: string): void {
    if (this.closed) return;
    for (const [id, watched] of [...this.watchedAs]) if (refKey(watched) === key) this.evaluate(id);
  }

  /** Announces what changed for an id since it was last looked at. */
  private evaluate(id: string): void {
    const ref = this.refs.get(id);
    const watched = this.watchedAs.get(id);
    const status = watched === undefined ? undefined : this.watcher.status(watched);
    const identity = status?.identity === undefined ? undefined : identityKey(status.identity);
    const before = this.known.get(id);
    if (identity === before) return;
    if (before !== undefined) {
      this.known.delete(id);
      this.emit('gone', id, 'vanished');
      if (this.known.has(id)) return; // a listener looked again and announced it already
    }
    if (identity !== undefined && ref !== undefined && status !== undefined) {
      this.known.set(id, identity);
      this.emit('available', {
        id,
        description: describeNamespace(ref),
        path: ref.kind === 'default' ? null : status.path,
        identity,
      });
    }
  }
}
