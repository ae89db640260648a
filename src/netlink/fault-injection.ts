/**
 * FAULT INJECTION, for reliability tests only (test tier `fault`). NEVER active unless explicitly
 * configured: the daemon installs an injector only when the environment variable NETNS_AGENT_FAULTS
 * is set and not empty (src/cli/agent-main.ts), and logs a warning when it does; tests may also give
 * one straight to a socket or event stream (`faults` option). Without it every socket's `faults` is
 * undefined and the only cost is one `undefined` check per sendmsg() and per read.
 *
 * What it simulates, at the socket layer (src/netlink/socket.ts, src/netlink/events.ts):
 * - an event socket whose receive buffer overran: some datagrams are dropped and the read reports
 *   ENOBUFS afterwards, as the kernel does; the owner must re-read the namespace;
 * - the kernel refusing a write request with a transient errno (EBUSY, EAGAIN...): the request is
 *   rejected before it is sent (so the kernel state is exactly as if the kernel had refused it) with
 *   a NetlinkError carrying that errno, the kernel message "fault injected", and the request's text;
 * - a small event receive buffer (`events-rcvbuf`), to provoke real overruns under a burst.
 *
 * The specification is a comma-separated list of key=value (NETNS_AGENT_FAULTS):
 *
 *   events-enobufs-every=N   every Nth datagram of an event socket overflows (1: every one)
 *   events-enobufs-drop=D    datagrams dropped from each overflowing one on (default 1)
 *   events-rcvbuf=BYTES      receive buffer of event sockets (the kernel doubles it; min ~2 KiB)
 *   events-filter=refuse     the kernel refuses the event sockets' filter (SO_ATTACH_FILTER)
 *   events-ns=A|B            only event sockets whose label contains A or B (e.g. a namespace name,
 *                            or "own namespace")
 *   request-errno=EBUSY|EAGAIN   errno(s) of injected refusals (default EBUSY; picked at random)
 *   request-rate=P           probability that a write request is refused (0 < P <= 1)
 *   request-every=N          or: every Nth write request of a socket is refused
 *   request-limit=M          at most M refusals in all (default: no limit)
 *   request-ns=A|B           only request sockets whose label contains A or B
 *   seed=S                   seed of the pseudo-random choices (default 1: runs are repeatable)
 *
 * Only write requests (RTM_NEW*, RTM_DEL*, RTM_SETLINK) are refused; reads and dumps never are.
 */
import { constants as osConstants } from 'node:os';
import { AgentError } from '../errors.js';
import { errnoName } from './errors.js';

/** The environment variable the daemon reads, once, at start. */
export const FAULTS_ENV = 'NETNS_AGENT_FAULTS';

/** The kernel message of every injected refusal, so that logs and history tell them apart. */
export const INJECTED_MESSAGE = 'fault injected';

export interface NetlinkFaultPlan {
  eventsEnobufsEvery?: number;
  eventsEnobufsDrop?: number;
  eventsReceiveBufferBytes?: number;
  eventsWhere?: string[];
  eventsFilterRefused?: boolean;
  /** Errno numbers (positive). */
  requestErrnos?: number[];
  requestRate?: number;
  requestEvery?: number;
  requestLimit?: number;
  requestWhere?: string[];
  seed?: number;
}

/** One injected fault, for the owner's log. */
export type InjectedFault =
  | { fault: 'event-overrun'; socket: string; dropped: number }
  | { fault: 'request-error'; socket: string; errno: string; request: string };

export interface FaultCounters {
  eventOverruns: number;
  eventsDropped: number;
  requestErrors: number;
}

export class FaultSpecError extends AgentError {
  readonly code = 'ERR_FAULT_SPEC';
}

const errnoByName = new Map<string, number>(Object.entries(osConstants.errno));

function positiveInteger(key: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new FaultSpecError(`${key}: not a positive integer: ${text}`);
  return value;
}

/** Parses NETNS_AGENT_FAULTS; unknown keys and bad values throw (never a half-understood plan). */
export function parseFaultSpec(spec: string): NetlinkFaultPlan {
  const plan: NetlinkFaultPlan = {};
  for (const part of spec.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 1) throw new FaultSpecError(`${FAULTS_ENV}: "${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const text = item.slice(eq + 1).trim();
    const list = () => text.split('|').filter((s) => s !== '');
    switch (key) {
      case 'events-enobufs-every':
        plan.eventsEnobufsEvery = positiveInteger(key, text);
        break;
      case 'events-enobufs-drop':
        plan.eventsEnobufsDrop = positiveInteger(key, text);
        break;
      case 'events-rcvbuf':
        plan.eventsReceiveBufferBytes = positiveInteger(key, text);
        break;
      case 'events-filter':
        if (text !== 'refuse')
          throw new FaultSpecError(
            `${FAULTS_ENV}: ${key}: only "refuse" is known, not ${JSON.stringify(text)}`,
          );
        plan.eventsFilterRefused = true;
        break;
      case 'events-ns':
        plan.eventsWhere = list();
        break;
      case 'request-errno':
        plan.requestErrnos = list().map((name) => {
          const errno = errnoByName.get(name.toUpperCase());
          if (errno === undefined) throw new FaultSpecError(`${key}: unknown errno ${name}`);
          return errno;
        });
        break;
      case 'request-rate': {
        const rate = Number(text);
        if (!(rate > 0 && rate <= 1))
          throw new FaultSpecError(`${key}: not a probability in (0, 1]: ${text}`);
        plan.requestRate = rate;
        break;
      }
      case 'request-every':
        plan.requestEvery = positiveInteger(key, text);
        break;
      case 'request-limit':
        plan.requestLimit = positiveInteger(key, text);
        break;
      case 'request-ns':
        plan.requestWhere = list();
        break;
      case 'seed':
        plan.seed = positiveInteger(key, text);
        break;
      default:
        throw new FaultSpecError(`${FAULTS_ENV}: unknown key ${key}`);
    }
  }
  if (plan.requestRate !== undefined && plan.requestEvery !== undefined)
    throw new FaultSpecError(`${FAULTS_ENV}: request-rate and request-every exclude each other`);
  return plan;
}

/** mulberry32: small, fast, seeded; good enough to pick which requests fail. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function matches(label: string, where: string[] | undefined): boolean {
  return where === undefined || where.length === 0 || where.some((part) => label.includes(part));
}

/** rtnetlink GET requests (RTM_GETLINK 18, RTM_GETADDR 22...) have type % 4 == 2. */
export function isWriteRequest(message: Buffer): boolean {
  if (message.length < 6) return false;
  const type = message.readUInt16LE(4);
  return type >= 16 && (type & 3) !== 2;
}

export interface FaultInjectorOptions {
  /** Told of every injected fault (the daemon logs them). */
  onFault?: (fault: InjectedFault) => void;
}

/** The process-wide (or a test's) set of faults to inject; sockets ask it for their share. */
export class NetlinkFaultInjector {
  readonly counters: FaultCounters = { eventOverruns: 0, eventsDropped: 0, requestErrors: 0 };
  readonly random: () => number;

  constructor(
    readonly plan: NetlinkFaultPlan,
    private readonly options: FaultInjectorOptions = {},
  ) {
    this.random = seededRandom(plan.seed ?? 1);
  }

  /** The faults of one event socket, or undefined when none apply to it. */
  forEvents(label: string): EventSocketFaults | undefined {
    const { eventsEnobufsEvery, eventsReceiveBufferBytes, eventsWhere, eventsFilterRefused } = this.plan;
    if (eventsEnobufsEvery === undefined && eventsReceiveBufferBytes === undefined && !eventsFilterRefused)
      return undefined;
    if (!matches(label, eventsWhere)) return undefined;
    return new EventSocketFaults(this, label);
  }

  /** The faults of one request socket, or undefined when none apply to it. */
  forRequests(label: string): RequestSocketFaults | undefined {
    const { requestRate, requestEvery, requestWhere } = this.plan;
    if (requestRate === undefined && requestEvery === undefined) return undefined;
    if (!matches(label, requestWhere)) return undefined;
    return new RequestSocketFaults(this, label);
  }

  /** @internal */
  report(fault: InjectedFault): void {
    try {
      this.options.onFault?.(fault);
    } catch {
      // a failing logger must not change what is injected
    }
  }
}

/** What an event socket does with each read, under injection. */
export class EventSocketFaults {
  private seen = 0;
  private dropping = 0;

  constructor(
    private readonly injector: NetlinkFaultInjector,
    readonly label: string,
  ) {}

  /** The receive buffer to ask for instead of the socket's own choice, if the plan says so. */
  get receiveBufferBytes(): number | undefined {
    return this.injector.plan.eventsReceiveBufferBytes;
  }

  /** Whether the "kernel" refuses the socket's filter. */
  get filterRefused(): boolean {
    return this.injector.plan.eventsFilterRefused === true;
  }

  /**
   * The datagrams of one read that "fitted in the buffer", and whether the read must report an
   * overrun (ENOBUFS) after them.
   */
  filter(datagrams: Buffer[]): { datagrams: Buffer[]; overrun: boolean } {
    const every = this.injector.plan.eventsEnobufsEvery;
    if (every === undefined) return { datagrams, overrun: false };
    const kept: Buffer[] = [];
    let overrun = false;
    let dropped = 0;
    for (const datagram of datagrams) {
      if (this.dropping > 0) {
        this.dropping--;
        dropped++;
        continue;
      }
      this.seen++;
      if (this.seen % every === 0) {
        overrun = true;
        dropped++;
        this.dropping = (this.injector.plan.eventsEnobufsDrop ?? 1) - 1;
        continue;
      }
      kept.push(datagram);
    }
    const { counters } = this.injector;
    counters.eventsDropped += dropped;
    if (overrun) {
      counters.eventOverruns++;
      this.injector.report({ fault: 'event-overrun', socket: this.label, dropped });
    }
    return { datagrams: kept, overrun };
  }
}

/** Which write requests of a socket the "kernel" refuses, under injection. */
export class RequestSocketFaults {
  private writes = 0;

  constructor(
    private readonly injector: NetlinkFaultInjector,
    readonly label: string,
  ) {}

  /** The errno to refuse this request with, or 0 to let it through. */
  errnoFor(message: Buffer, describe: () => string): number {
    if (!isWriteRequest(message)) return 0;
    const { plan, counters, random } = this.injector;
    if (plan.requestLimit !== undefined && counters.requestErrors >= plan.requestLimit) return 0;
    this.writes++;
    const refuse =
      plan.requestEvery !== undefined
        ? this.writes % plan.requestEvery === 0
        : random() < (plan.requestRate ?? 0);
    if (!refuse) return 0;
    const errnos = plan.requestErrnos?.length ? plan.requestErrnos : [osConstants.errno.EBUSY];
    const errno = errnos[Math.floor(random() * errnos.length)] ?? osConstants.errno.EBUSY;
    counters.requestErrors++;
    this.injector.report({
      fault: 'request-error',
      socket: this.label,
      errno: errnoName(errno),
      request: describe(),
    });
    return errno;
  }
}

let installed: NetlinkFaultInjector | undefined;

/**
 * Makes `injector` the one every socket and event stream opened from now on uses (unless given its
 * own); undefined uninstalls. Only the daemon's entry point and tests call this.
 */
export function installNetlinkFaults(injector: NetlinkFaultInjector | undefined): void {
  installed = injector;
}

export function installedNetlinkFaults(): NetlinkFaultInjector | undefined {
  return installed;
}

/** The injector NETNS_AGENT_FAULTS asks for, or undefined when it is unset or empty. */
export function faultsFromEnvironment(
  env: NodeJS.ProcessEnv,
  options: FaultInjectorOptions = {},
): NetlinkFaultInjector | undefined {
  const spec = env[FAULTS_ENV]?.trim();
  if (!spec) return undefined;
  return new NetlinkFaultInjector(parseFaultSpec(spec), options);
}
