/**
 * Kernel events of one namespace: links, addresses, routes and neighbours added, changed or
 * removed, by anyone. One socket joined to the rtnetlink multicast groups, with a large receive
 * buffer; if the kernel still has to drop events (ENOBUFS) the owner is told to re-read the whole
 * state of the namespace, since it can no longer know what changed.
 */
import { native, type NativeSocketHandle } from '../native/binding.js';
import {
  NETLINK_ROUTE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
} from './codec/constants.js';
import { splitMessages } from './codec/message.js';
import { kernelNoiseFilter } from './codec/socket-filter.js';
import { decodeLink, type Link } from './codec/link.js';
import { decodeAddress, type Address } from './codec/address.js';
import { decodeRoute, isUnfollowedKernelRoute, type Route } from './codec/route.js';
import { decodeNeighbour, type Neighbour } from './codec/neighbour.js';
import { NetlinkCodecError, errnoName } from './errors.js';
import {
  INJECTED_MESSAGE,
  installedNetlinkFaults,
  type EventSocketFaults,
  type NetlinkFaultInjector,
} from './fault-injection.js';

export type EventTopic = 'link' | 'address' | 'route' | 'neighbour';

export type KernelEvent =
  | { topic: 'link'; removed: boolean; link: Link }
  | { topic: 'address'; removed: boolean; address: Address }
  | { topic: 'route'; removed: boolean; route: Route }
  | { topic: 'neighbour'; removed: boolean; neighbour: Neighbour };

const GROUPS: Record<EventTopic, number[]> = {
  link: [RTNLGRP_LINK],
  address: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  neighbour: [RTNLGRP_NEIGH],
};

export interface EventStreamOptions {
  namespacePath?: string | null;
  label?: string;
  topics?: EventTopic[];
  receiveBufferBytes?: number;
  /**
   * Whether the kernel drops neighbour notifications about multicast addresses and its own
   * routes before queueing them (codec/socket-filter.ts); default true, as no owner here needs them.
   */
  dropKernelNoise?: boolean;
  /** Called with each batch of decoded events, in kernel order. */
  onEvents: (events: KernelEvent[]) => void;
  /** Events were lost (ENOBUFS) or the socket failed: re-read the namespace's state. */
  onLost: (reason: string) => void;
  /**
   * Fault injection (tests only, see fault-injection.ts): undefined uses the injector installed
   * for the process, if any; null none at all.
   */
  faults?: NetlinkFaultInjector | null;
}

/** Receive buffer of an event socket unless told otherwise: bursts of thousands of events fit. */
export const EVENT_RECEIVE_BUFFER_BYTES = 64 * 1024 * 1024;

const KERNEL_NOISE_FILTER = kernelNoiseFilter();

export function decodeEvent(
  type: number,
  message: Parameters<typeof decodeLink>[0],
): KernelEvent | undefined {
  switch (type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return { topic: 'link', removed: type === RTM_DELLINK, link: decodeLink(message) };
    case RTM_NEWADDR:
    case RTM_DELADDR:
      return { topic: 'address', removed: type === RTM_DELADDR, address: decodeAddress(message) };
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      // The kernel's own routes: thousands come with a large transaction's addresses, and no owner
      // needs most of them (codec/socket-filter.ts drops the same before they are queued).
      if (isUnfollowedKernelRoute(message)) return undefined;
      return { topic: 'route', removed: type === RTM_DELROUTE, route: decodeRoute(message) };
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      return { topic: 'neighbour', removed: type === RTM_DELNEIGH, neighbour: decodeNeighbour(message) };
    default:
      return undefined;
  }
}

export class KernelEventStream {
  private readonly handle: NativeSocketHandle;
  private closed = false;
  /** Injected overruns; undefined (the normal case) costs one check per read. */
  private readonly faults: EventSocketFaults | undefined;
  /** Events that could not be decoded (counted, skipped). */
  undecodable = 0;
  /** Messages received that no owner reads (e.g. the kernel's local routes, when not filtered). */
  ignored = 0;
  /** Whether the kernel runs the noise filter (codec/socket-filter.ts) on this socket. */
  private filterAttached = false;
  /** Why the kernel refused the filter, if it did (shown by diagnostics; events still come). */
  filterError: string | undefined;

  constructor(private readonly options: EventStreamOptions) {
    const topics = options.topics ?? ['link', 'address', 'route', 'neighbour'];
    const injector = options.faults === undefined ? installedNetlinkFaults() : options.faults;
    this.faults = injector?.forEvents(this.label);
    this.handle = native().open(
      options.namespacePath ?? null,
      NETLINK_ROUTE,
      this.faults?.receiveBufferBytes ?? options.receiveBufferBytes ?? EVENT_RECEIVE_BUFFER_BYTES,
      topics.flatMap((topic) => GROUPS[topic]),
      (datagrams) => this.onDatagrams(datagrams),
      (errno) => {
        if (!this.closed) this.options.onLost(`event socket of ${this.label}: ${errnoName(errno)}`);
      },
    );
    // Neighbour entries the kernel makes for multicast addresses, and its own routes, come
    // and go by the thousand and are never ours (codec/socket-filter.ts): the kernel drops them
    // before they are queued.
    if ((topics.includes('neighbour') || topics.includes('route')) && options.dropKernelNoise !== false) {
      try {
        if (this.faults?.filterRefused) throw new Error(`EINVAL (${INJECTED_MESSAGE})`);
        native().attachFilter(this.handle, KERNEL_NOISE_FILTER);
        this.filterAttached = true;
      } catch (error) {
        // Only a saving lost: everything still comes, decoded as before (filterError says why).
        this.filterError = error instanceof Error ? error.message : String(error);
      }
    }
  }

  /** Whether the kernel runs the noise filter (codec/socket-filter.ts) on this socket. */
  get filtered(): boolean {
    return this.filterAttached;
  }

  get label(): string {
    return (
      this.options.label ??
      (this.options.namespacePath ? `namespace ${this.options.namespacePath}` : 'own namespace')
    );
  }

  /**
   * Delivers every event queued now, before returning. After a dump, each change the dump saw has
   * its event queued already (the kernel queues it as it makes the change): read now, those events
   * can still be told apart from later ones.
   */
  readNow(): void {
    if (!this.closed) native().readNow(this.handle);
  }

  /** Lets the process exit while only this stream is open. */
  unref(): void {
    if (!this.closed) native().unref(this.handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().close(this.handle);
  }

  private onDatagrams(received: Buffer[]): void {
    if (this.closed) return;
    let datagrams = received;
    let overrun = false;
    if (this.faults) ({ datagrams, overrun } = this.faults.filter(received));
    const events: KernelEvent[] = [];
    for (const datagram of datagrams) {
      try {
        for (const message of splitMessages(datagram)) {
          const event = decodeEvent(message.type, message);
          if (event) events.push(event);
          else this.ignored++;
        }
      } catch (error) {
        if (!(error instanceof NetlinkCodecError)) throw error;
        this.undecodable++;
      }
    }
    if (events.length > 0) this.options.onEvents(events);
    // Injected overrun: reported after what was read, as the native layer reports a real one.
    if (overrun && !this.closed)
      this.options.onLost(`event socket of ${this.label}: ENOBUFS (fault injected)`);
  }
}
