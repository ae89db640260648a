/**
 * Errors of the netlink layer. A kernel refusal carries its errno, its name (EEXIST, ENODEV...) and
 * the kernel's extended-ack message, which is usually the most useful sentence a user can get
 * ("Nexthop has invalid gateway", "Unknown device type").
 */
import { constants as osConstants } from 'node:os';
import { AgentError } from '../errors.js';

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, value]) => [value, name]),
);
// Linux gives 11 two names and node lists EWOULDBLOCK last; the kernel and everyone else say EAGAIN
// (and the retriable set below names it so: as EWOULDBLOCK a busy kernel was not retried).
errnoNames.set(osConstants.errno.EAGAIN, 'EAGAIN');

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/**
 * What the kernel answers about an object (link, address, route, neighbour) that is not there, or
 * not any more: for a deletion, it is gone already.
 */
const NO_SUCH_OBJECT = new Set(['ENODEV', 'ENOENT', 'ESRCH', 'EADDRNOTAVAIL']);

export function meansNoSuchObject(errnoName: string): boolean {
  return NO_SUCH_OBJECT.has(errnoName);
}

/** Errors worth retrying: the kernel was busy or short of memory, or a name is still being freed. */
const RETRIABLE_ERRNOS = new Set(['EBUSY', 'EAGAIN', 'ENOBUFS', 'ENOMEM', 'EINTR']);

export class NetlinkError extends AgentError {
  readonly code = 'ERR_NETLINK';
  /** Positive errno, e.g. 17. */
  readonly errno: number;
  /** Symbolic errno, e.g. 'EEXIST'. */
  readonly errnoName: string;
  /** The kernel's extended-ack text, when it gave one. */
  readonly kernelMessage: string | undefined;
  /** What was asked, e.g. 'RTM_NEWADDR 10.0.0.1/24 dev 7'. */
  readonly request: string;

  constructor(errno: number, request: string, kernelMessage?: string) {
    const name = errnoName(errno);
    super(`${request}: ${name}${kernelMessage ? ` (${kernelMessage})` : ''}`, {
      retriable: RETRIABLE_ERRNOS.has(name),
    });
    this.errno = errno;
    this.errnoName = name;
    this.kernelMessage = kernelMessage;
    this.request = request;
  }
}

/** A buffer that is not a well-formed netlink message (truncated, bad lengths). */
export class NetlinkCodecError extends AgentError {
  readonly code = 'ERR_NETLINK_CODEC';
}

/** A dump kept being interrupted by concurrent changes; the retrying wrapper gave up. */
export class DumpInterruptedError extends AgentError {
  readonly code = 'ERR_NETLINK_DUMP_INTERRUPTED';
  constructor(request: string, attempts: number) {
    super(`${request}: dump interrupted ${attempts} times by concurrent changes`, { retriable: true });
  }
}

/** The socket's receive buffer overflowed and the kernel dropped messages (ENOBUFS). */
export class NetlinkOverrunError extends AgentError {
  readonly code = 'ERR_NETLINK_OVERRUN';
  constructor(what: string) {
    super(`${what}: receive buffer overrun, messages were lost`, { retriable: true });
  }
}

/** No answer came for a request in time (lost acknowledgement). */
export class NetlinkTimeoutError extends AgentError {
  readonly code = 'ERR_NETLINK_TIMEOUT';
  constructor(request: string, ms: number) {
    super(`${request}: no answer from the kernel within ${ms} ms`, { retriable: true });
  }
}
