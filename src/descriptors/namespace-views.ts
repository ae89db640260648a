/**
 * One view per available namespace: its netlink handle and its link registry (a dump kept current
 * by the kernel's events). Views are opened when the namespace becomes available (a fact reaches
 * the engine) and closed when it goes: our sockets hold a reference on the namespace, and closing
 * them lets a dead container's namespace, and the VETH ends in it, really go away.
 */
import { EventEmitter } from 'node:events';
import {
  LinkRegistry,
  NetlinkHandle,
  type KernelEvent,
  type LinkChange,
  type SocketCounters,
} from '../netlink/index.js';
import { NamespaceFile, identityKey } from '../netns/index.js';
import { AgentError } from '../errors.js';

/** What the metrics show of every socket's counters, summed. */
export type NetlinkTotals = Pick<SocketCounters, 'requests' | 'errors' | 'alreadyGone'>;

export interface NamespaceLocation {
  /** Canonical namespace id (model's namespaceId): 'default', 'named/ns1', 'microservice/ms-a'... */
  id: string;
  /** Words for messages: 'named namespace ns1'. */
  description: string;
  /** Namespace file to open; null for the agent's own namespace. */
  path: string | null;
  /** Device and inode of the namespace file: a different identity under one id is a new namespace. */
  identity: string;
}

export interface NamespaceView extends NamespaceLocation {
  handle: NetlinkHandle;
  links: LinkRegistry;
  /**
   * The namespace's file, open while the view is, lent to requests that put a link here from another
   * namespace (IFLA_NET_NS_FD): no open and close per VETH pair, and the link lands in the namespace
   * this view watches even if the path has meanwhile been given to a new one.
   */
  file: NamespaceFile;
}

interface ViewEvents {
  /** Links of a namespace changed (by us or anyone). */
  links: [NamespaceView, LinkChange[]];
  /** Addresses, routes or neighbours of a namespace changed. */
  kernel: [NamespaceView, KernelEvent[]];
  /** Events were lost in a namespace and its links were re-read. */
  resynced: [NamespaceView, string];
  /** The view works, but less well than it should (the reason). */
  degraded: [NamespaceView, string];
}

export const OWN_NAMESPACE_FILE = '/proc/self/ns/net';

/** The namespace file shows another namespace than the one announced (see NamespaceViews.create). */
export class NamespaceChangedError extends AgentError {
  readonly code = 'ERR_NAMESPACE_CHANGED';

  constructor(location: NamespaceLocation) {
    super(`${location.description}: ${location.path ?? OWN_NAMESPACE_FILE} shows another namespace now`, {
      retriable: true,
    });
  }
}

/**
 * The views grouped by the namespace they show: one namespace can be open under several references
 * (a container run with --network host shares the agent's own; a named namespace also named by the
 * pid of a process in it). A resync reads each namespace once, and matches there what is wanted
 * under any of its references: read under each, one reference's items were the other's orphans.
 */
export function viewsByNamespace(views: readonly NamespaceView[]): NamespaceView[][] {
  const groups = new Map<string, NamespaceView[]>();
  for (const view of views) {
    const group = groups.get(view.identity);
    if (group) group.push(view);
    else groups.set(view.identity, [view]);
  }
  return [...groups.values()];
}

/**
 * Closed named namespaces whose closing time is kept (it dates the status of one deleted outside
 * the agent); as many as the removed items the engine's status table keeps.
 */
export const CLOSED_NAMESPACES_REMEMBERED = 1000;

export class NamespaceViews extends EventEmitter<ViewEvents> {
  private readonly views = new Map<string, NamespaceView>();
  private readonly opening = new Map<string, Promise<NamespaceView>>();
  private closed = false;
  /** Counts of the handles of views closed so far. */
  private readonly retired: NetlinkTotals = { requests: 0, errors: 0, alreadyGone: 0 };
  /**
   * Named namespace id -> when its view was closed; dropped when a view of that id opens again, and
   * the oldest beyond `closedLimit`. Before, every name ever closed stayed: an agent given a new
   * named namespace per workload (put, used, deleted) kept one entry per name for its whole life.
   */
  private readonly closedAt = new Map<string, number>();

  /** `closedLimit`: how many closed named namespaces keep their closing time (the newest). */
  constructor(private readonly closedLimit = CLOSED_NAMESPACES_REMEMBERED) {
    super();
  }

  get(id: string): NamespaceView | undefined {
    return this.views.get(id);
  }

  all(): NamespaceView[] {
    return [...this.views.values()];
  }

  /** Opens (or returns) the view of a namespace; re-opens it when its identity changed. */
  async open(location: NamespaceLocation): Promise<NamespaceView> {
    const current = this.views.get(location.id);
    if (current && current.identity === location.identity) return current;
    if (current) this.close(location.id);
    const inProgress = this.opening.get(location.id);
    if (inProgress) return inProgress;
    const opening = this.create(location).finally(() => this.opening.delete(location.id));
    this.opening.set(location.id, opening);
    return opening;
  }

  private async create(location: NamespaceLocation): Promise<NamespaceView> {
    const file = new NamespaceFile(location.path ?? OWN_NAMESPACE_FILE, location.description);
    // The identity was read from the path when the namespace was announced; the view opens later
    // (after the steps before it for that id, e.g. a going that waits for a busy engine), and the
    // path may show another namespace by then (a bind mount over it, taken off again before the
    // next check: no event). A view of that one under the announced identity had items made there,
    // "configured", while the namespace the path shows lacked them.
    const opened = file.identity();
    if (opened === undefined || identityKey(opened) !== location.identity) {
      file.close();
      throw new NamespaceChangedError(location);
    }
    // The sockets are opened through the open file, not its path: in the namespace just checked.
    const socketPath = location.path === null ? null : (file.openPath ?? location.path);
    let handle: NetlinkHandle;
    try {
      handle = new NetlinkHandle({ namespacePath: socketPath, label: location.description });
    } catch (error) {
      file.close();
      throw error;
    }
    // Its event socket is opened at once by start() below, while the file is still open.
    const links = new LinkRegistry(handle, socketPath);
    handle.nameOfIndex = (index) => links.get(index)?.name;
    const view: NamespaceView = { ...location, handle, links, file };
    links.on('change', (changes) => this.emit('links', view, changes));
    links.on('kernel', (events) => this.emit('kernel', view, events));
    links.on('resynced', (reason) => this.emit('resynced', view, reason));
    links.on('error', () => {
      // A failed re-dump: the namespace is probably going away; its watcher will say so.
    });
    try {
      await links.start();
    } catch (error) {
      links.close();
      this.retire(view);
      throw error;
    }
    if (this.closed) {
      links.close();
      this.retire(view);
      throw new Error('namespace views are closed');
    }
    this.views.set(location.id, view);
    this.closedAt.delete(location.id);
    if (links.eventFilterError !== undefined)
      this.emit('degraded', view, `the kernel refused the event socket's filter: ${links.eventFilterError}`);
    return view;
  }

  close(id: string): void {
    const view = this.views.get(id);
    if (!view) return;
    // Named ones only (their status says when they went); pid and microservice ids rarely come back.
    if (id.startsWith('named/')) this.noteClosed(id);
    this.views.delete(id);
    view.links.close();
    this.retire(view);
  }

  /**
   * Closes a view's handle and file (once requests borrowing it are done), keeping its counts: the
   * totals are counters, they never go down.
   */
  private retire(view: NamespaceView): void {
    const { handle } = view;
    this.retired.requests += handle.socket.counters.requests;
    this.retired.errors += handle.socket.counters.errors;
    this.retired.alreadyGone += handle.socket.counters.alreadyGone;
    handle.close();
    view.file.close();
  }

  private noteClosed(id: string): void {
    this.closedAt.delete(id); // to the end: the newest
    this.closedAt.set(id, Date.now());
    for (const oldest of this.closedAt.keys()) {
      if (this.closedAt.size <= this.closedLimit) break;
      this.closedAt.delete(oldest);
    }
  }

  /** How many closed named namespaces keep their closing time now (at most `closedLimit`). */
  closedRemembered(): number {
    return this.closedAt.size;
  }

  /** When the view of a namespace that has none now was closed (the namespace went), if it had one. */
  closedSince(id: string): number | undefined {
    return this.views.has(id) ? undefined : this.closedAt.get(id);
  }

  closeAll(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.views.keys()]) this.close(id);
    this.closedAt.clear();
  }

  /** Totals of every socket's counters, for metrics. */
  netlinkTotals(): NetlinkTotals {
    const totals = { ...this.retired };
    for (const view of this.views.values()) {
      const { counters } = view.handle.socket;
      totals.requests += counters.requests;
      totals.errors += counters.errors;
      totals.alreadyGone += counters.alreadyGone;
    }
    return totals;
  }
}
