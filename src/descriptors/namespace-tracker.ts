/**
 * Watches the namespaces the configuration references and tells when each becomes available (with
 * its identity: device and inode of the namespace file), is replaced by a new one under the same
 * reference, or goes. Named namespaces are watched through /var/run/netns (plus a periodic check,
 * as directory events can be missed); pid and file references by a periodic check; microservices
 * by the Docker watcher. vpp-agent never tracked pid/file namespaces: a dead process left its items
 * failing for good; here they go pending and come back with the namespace.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { namespaceIdentity } from '../netns/index.js';
import { describeNamespace, namespaceId, type NamespaceRef } from '../model/index.js';
import type { NamespaceLocation } from './namespace-views.js';
import { NETNS_DIR, namedNamespacePath } from './named-namespaces.js';

interface TrackerEvents {
  available: [NamespaceLocation];
  /** `unreferenced`: the configuration stopped using it (it may still exist). */
  gone: [string, 'vanished' | 'unreferenced'];
}

export interface MicroserviceSource {
  /** Host pid of the container's init process, when it runs. */
  pidOf(label: string): number | undefined;
}

/** The file of a reference, or undefined when it cannot be known now (microservice not running). */
function pathOf(ref: NamespaceRef, microservices: MicroserviceSource | undefined): string | null | undefined {
  switch (ref.kind) {
    case 'default':
      return null;
    case 'named':
      return namedNamespacePath(ref.name);
    case 'pid':
      return `/proc/${ref.pid}/ns/net`;
    case 'file':
      return ref.path;
    case 'microservice': {
      const pid = microservices?.pidOf(ref.label);
      return pid === undefined ? undefined : `/proc/${pid}/ns/net`;
    }
  }
}

export class NamespaceTracker extends EventEmitter<TrackerEvents> {
  private readonly refs = new Map<string, NamespaceRef>();
  private readonly known = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private dirWatcher: FSWatcher | undefined;
  private closed = false;

  constructor(
    private readonly microservices?: MicroserviceSource,
    private readonly intervalMs = 250,
  ) {
    super();
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
    this.watchDirectory();
  }

  private watchDirectory(): void {
    try {
      this.dirWatcher = watch(NETNS_DIR, () => this.check());
      this.dirWatcher.on('error', () => {
        this.dirWatcher?.close();
        this.dirWatcher = undefined;
      });
    } catch {
      // /var/run/netns does not exist yet; the periodic check retries.
    }
  }

  /** Sets the references to watch (those the configuration uses now). */
  setReferences(refs: NamespaceRef[]): void {
    const wanted = new Map(refs.map((r) => [namespaceId(r), r]));
    for (const id of [...this.refs.keys()]) {
      if (!wanted.has(id)) {
        this.refs.delete(id);
        if (this.known.delete(id)) this.emit('gone', id, 'unreferenced');
      }
    }
    for (const [id, ref] of wanted) this.refs.set(id, ref);
    this.check();
  }

  isReferenced(id: string): boolean {
    return this.refs.has(id);
  }

  /** Checks every reference now (also called on directory and Docker events). */
  check(): void {
    if (this.closed) return;
    if (!this.dirWatcher) this.watchDirectory();
    for (const [id, ref] of this.refs) {
      const path = pathOf(ref, this.microservices);
      const identity = path === undefined ? undefined : namespaceIdentity(path);
      const before = this.known.get(id);
      if (identity === before) continue;
      if (before !== undefined) {
        this.known.delete(id);
        this.emit('gone', id, 'vanished');
      }
      if (identity !== undefined && path !== undefined) {
        this.known.set(id, identity);
        this.emit('available', { id, description: describeNamespace(ref), path, identity });
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.dirWatcher?.close();
    this.removeAllListeners();
  }
}
