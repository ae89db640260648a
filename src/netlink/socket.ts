/**
 * A NETLINK_ROUTE socket bound to one network namespace, with pipelined requests.
 *
 * The socket is created with the main thread briefly inside the namespace (native addon); after
 * that it belongs to the namespace whatever thread uses it. Requests are queued, given sequence
 * numbers, and sent many per sendmsg() (the kernel runs each message inside that call); answers
 * come back through libuv and are matched by sequence number, so each request resolves or
 * rejects on its own. In-flight requests are bounded so acknowledgements always fit the receive
 * buffer; big batches are cut into chunks with a yield in between so timers and the HTTP API keep
 * running.
 *
 * A link's deletion is sent alone, from a thread of libuv's pool: the kernel waits for RCU inside
 * that sendmsg() (15-50 ms for a VETH pair, ~0.5 s for a thousand links deleted as a group), and on
 * the main thread that wait held every namespace's events, the engine and the HTTP API. The
 * socket's later requests wait for it, so the kernel still sees them in the order they were made;
 * so do every other socket's, for a second at most: the deletion holds the kernel's RTNL lock most
 * of that time, and a request sent meanwhile from the main thread would block it there instead.
 * (Reads are not held: on kernels whose dumps take the lock, a dump's continuation read may still
 * wait there.)
 */
import { native, type NativeSocketHandle } from '../native/binding.js';
import { ClosedError } from '../errors.js';
import {
  NETLINK_ROUTE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  RTM_BASE,
  RTM_DELLINK,
} from './codec/constants.js';
import {
  HEADER_FLAGS_OFFSET,
  HEADER_SEQ_OFFSET,
  HEADER_TYPE_OFFSET,
  decodeAcknowledgement,
  splitMessages,
  type NetlinkMessage,
} from './codec/message.js';
import {
  DumpInterruptedError,
  NetlinkCodecError,
  NetlinkError,
  NetlinkOverrunError,
  NetlinkTimeoutError,
  errnoName,
  meansNoSuchObject,
} from './errors.js';
import {
  INJECTED_MESSAGE,
  installedNetlinkFaults,
  type NetlinkFaultInjector,
  type RequestSocketFaults,
} from './fault-injection.js';

export interface NetlinkSocketOptions {
  /** Path of the namespace file (e.g. /var/run/netns/ns1); null or absent: the agent's own. */
  namespacePath?: string | null;
  /** Words naming the namespace in errors, e.g. 'named namespace ns1'. */
  label?: string;
  /** Requests sent but not yet answered, at most. */
  maxInFlight?: number;
  /** Bytes of requests handed to the kernel in one sendmsg(), at most. */
  maxBatchBytes?: number;
  /** Requests in one sendmsg(), at most. */
  maxBatchMessages?: number;
  receiveBufferBytes?: number;
  /** A request unanswered after this long is rejected (retriable). */
  requestTimeoutMs?: number;
  /** Attempts of a dump that keeps being interrupted by concurrent changes. */
  dumpAttempts?: number;
  /**
   * Fault injection (tests only, see fault-injection.ts): undefined uses the injector installed
   * for the process, if any; null none at all.
   */
  faults?: NetlinkFaultInjector | null;
}

/** Counters for metrics and benchmarks. */
export interface SocketCounters {
  requests: number;
  /** Requests the kernel refused, or that failed, except those counted in alreadyGone. */
  errors: number;
  /** Deletions the kernel answered "no such object" (ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL). */
  alreadyGone: number;
  sendCalls: number;
  /** Of sendCalls: those made from a thread of libuv's pool (link deletions). */
  offloadedSends: number;
  dumps: number;
  dumpRetries: number;
}

type Describe = () => string;

interface Pending {
  seq: number;
  describe: Describe;
  dump: boolean;
  /** An RTM_DEL* request: "no such object" is an answer, not a failure, for the counters. */
  removal: boolean;
  /** Sent alone, off the main thread (a link's deletion). */
  offloaded: boolean;
  messages: NetlinkMessage[];
  interrupted: boolean;
  sentAt: number;
  resolve: (messages: NetlinkMessage[]) => void;
  reject: (error: Error) => void;
}

interface Queued {
  message: Buffer;
  pending: Pending;
}

const DEFAULTS = {
  maxInFlight: 1024,
  maxBatchBytes: 64 * 1024,
  maxBatchMessages: 128,
  receiveBufferBytes: 32 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  dumpAttempts: 10,
};

/** rtnetlink's message types come in fours from RTM_BASE (16): NEW, DEL, GET, SET. */
function isRemoval(type: number): boolean {
  return type >= RTM_BASE && (type - RTM_BASE) % 4 === 1;
}

/**
 * How long other sockets' requests wait for offloaded deletions at most: a deletion may sit in
 * libuv's queue behind other work (not holding the kernel's lock yet), or the kernel may be stuck in
 * it; the rest of the agent's netlink traffic must not wait for ever.
 */
const OFFLOAD_HOLD_MAX_MS = 1000;

/** Offloaded sends running in the process, and the sockets whose requests wait for them to end. */
let offloadsRunning = 0;
let holdEndsAt = 0;
let holdTimer: NodeJS.Timeout | undefined;
const waitingForOffloads = new Set<NetlinkSocket>();

function offloadStarted(): void {
  if (offloadsRunning++ === 0) holdEndsAt = performance.now() + OFFLOAD_HOLD_MAX_MS;
}

function offloadEnded(): void {
  if (--offloadsRunning === 0) releaseWaiting();
}

/** Whether a socket's requests wait now for the offloaded sends of the process. */
function holding(): boolean {
  return offloadsRunning > 0 && performance.now() < holdEndsAt;
}

function waitForOffloads(socket: NetlinkSocket): void {
  waitingForOffloads.add(socket);
  if (holdTimer) return;
  holdTimer = setTimeout(releaseWaiting, Math.max(0, holdEndsAt - performance.now()));
  holdTimer.unref();
}

function releaseWaiting(): void {
  if (holdTimer) clearTimeout(holdTimer);
  holdTimer = undefined;
  const waiting = [...waitingForOffloads];
  waitingForOffloads.clear();
  for (const socket of waiting) socket.resume();
}

/** Where the messages of a batch are put together before one sendmsg(); grows as batches need. */
let sendBuffer = Buffer.allocUnsafe(DEFAULTS.maxBatchBytes);

export class NetlinkSocket {
  readonly label: string;
  readonly counters: SocketCounters = {
    requests: 0,
    errors: 0,
    alreadyGone: 0,
    sendCalls: 0,
    offloadedSends: 0,
    dumps: 0,
    dumpRetries: 0,
  };
  private readonly handle: NativeSocketHandle;
  private readonly options: typeof DEFAULTS;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private nextSeq = 1;
  private flushScheduled = false;
  /** An offloaded send is running: nothing more is sent until it returns (order kept). */
  private offloadRunning = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private referenced = true;
  private dumpTail: Promise<void> = Promise.resolve();
  /** Injected refusals of write requests; undefined (the normal case) costs one check per send. */
  private readonly faults: RequestSocketFaults | undefined;

  constructor(options: NetlinkSocketOptions = {}) {
    this.label =
      options.label ?? (options.namespacePath ? `namespace ${options.namespacePath}` : 'own namespace');
    this.options = {
      maxInFlight: options.maxInFlight ?? DEFAULTS.maxInFlight,
      maxBatchBytes: options.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
      maxBatchMessages: options.maxBatchMessages ?? DEFAULTS.maxBatchMessages,
      receiveBufferBytes: options.receiveBufferBytes ?? DEFAULTS.receiveBufferBytes,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      dumpAttempts: options.dumpAttempts ?? DEFAULTS.dumpAttempts,
    };
    const injector = options.faults === undefined ? installedNetlinkFaults() : options.faults;
    this.faults = injector?.forRequests(this.label);
    this.handle = native().open(
      options.namespacePath ?? null,
      NETLINK_ROUTE,
      this.options.receiveBufferBytes,
      [],
      (datagrams) => this.onDatagrams(datagrams),
      (errno) => this.onSocketError(errno),
    );
    // An idle request socket must not keep the process alive.
    this.setAwaiting(false);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends a request that wants an acknowledgement; resolves with any echoed messages. */
  request(message: Buffer, describe: Describe): Promise<NetlinkMessage[]> {
    return this.enqueue(message, NLM_F_REQUEST | NLM_F_ACK, false, describe);
  }

  /**
   * Sends a dump request and resolves with every message of the answer. A dump that the kernel
   * flags as interrupted (NLM_F_DUMP_INTR: the table changed meanwhile) is retried; a partial
   * list is never returned.
   */
  dump(message: Buffer, describe: Describe): Promise<NetlinkMessage[]> {
    // The kernel runs one dump per socket at a time (a second one gets EBUSY): chain them.
    const result = this.dumpTail.then(() => this.dumpWithRetries(message, describe));
    this.dumpTail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async dumpWithRetries(message: Buffer, describe: Describe): Promise<NetlinkMessage[]> {
    this.counters.dumps++;
    for (let attempt = 1; ; attempt++) {
      const copy = attempt === 1 ? message : Buffer.from(message);
      try {
        return await this.enqueue(copy, NLM_F_REQUEST | NLM_F_DUMP, true, describe);
      } catch (error) {
        if (!(error instanceof DumpInterruptedError)) throw error;
        if (attempt >= this.options.dumpAttempts) throw new DumpInterruptedError(describe(), attempt);
        this.counters.dumpRetries++;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    native().close(this.handle);
    const error = new ClosedError(`netlink socket of ${this.label}`);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]!.pending.reject(error);
    this.queue.length = 0;
    this.queueHead = 0;
  }

  private enqueue(
    message: Buffer,
    flags: number,
    dump: boolean,
    describe: Describe,
  ): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new ClosedError(`netlink socket of ${this.label}`));
    return new Promise((resolve, reject) => {
      const seq = this.nextSeq;
      this.nextSeq = this.nextSeq >= 0x7fffffff ? 1 : this.nextSeq + 1;
      message.writeUInt16LE(message.readUInt16LE(HEADER_FLAGS_OFFSET) | flags, HEADER_FLAGS_OFFSET);
      message.writeUInt32LE(seq, HEADER_SEQ_OFFSET);
      const type = message.readUInt16LE(HEADER_TYPE_OFFSET);
      const pending: Pending = {
        seq,
        describe,
        dump,
        removal: isRemoval(type),
        offloaded: type === RTM_DELLINK,
        messages: [],
        interrupted: false,
        sentAt: 0,
        resolve,
        reject,
      };
      this.queue.push({ message, pending });
      this.counters.requests++;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // A microtask lets a caller queue a whole batch synchronously before the first sendmsg().
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.offloadRunning) return; // its end flushes again
    if (holding()) {
      waitForOffloads(this); // another socket's deletion holds the kernel: resume() after it
      return;
    }
    const { maxInFlight, maxBatchBytes, maxBatchMessages } = this.options;
    const batch: Queued[] = [];
    let bytes = 0;
    while (
      this.queueHead < this.queue.length &&
      this.pending.size + batch.length < maxInFlight &&
      batch.length < maxBatchMessages
    ) {
      const next = this.queue[this.queueHead]!;
      if (next.pending.offloaded && batch.length > 0) break; // sent alone, after this batch
      if (batch.length > 0 && bytes + next.message.length > maxBatchBytes) break;
      batch.push(next);
      bytes += next.message.length;
      this.queueHead++;
      if (next.pending.offloaded) break;
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 4096) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (batch.length > 0) this.send(batch, bytes);
    // More waiting and room for it: continue after a turn of the event loop, so answers are read
    // and other work runs between chunks.
    if (
      this.queueHead < this.queue.length &&
      this.pending.size < maxInFlight &&
      !this.flushScheduled &&
      !this.offloadRunning
    ) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what waited for the offloaded sends of the process to end. */
  resume(): void {
    if (this.queueHead < this.queue.length) this.scheduleFlush();
  }

  /** Keeps the process alive exactly while answers are awaited. */
  private setAwaiting(awaiting: boolean): void {
    if (awaiting === this.referenced || this.closed) return;
    this.referenced = awaiting;
    if (awaiting) native().ref(this.handle);
    else native().unref(this.handle);
  }

  private send(batch: Queued[], bytes: number): void {
    if (this.faults) {
      [batch, bytes] = this.injectRefusals(batch, this.faults);
      if (batch.length === 0) return;
    }
    this.setAwaiting(true);
    const now = Date.now();
    for (const { pending } of batch) {
      pending.sentAt = now;
      this.pending.set(pending.seq, pending);
    }
    let data = batch[0]!.message;
    if (batch.length > 1) {
      // The kernel copies the bytes inside sendmsg(), which returns before anything else runs: one
      // buffer serves every batch of every socket (Buffer.concat allocated a new one per batch:
      // ~0.1 s of the W1 apply's profile, against a few ms for these copies).
      if (sendBuffer.length < bytes) sendBuffer = Buffer.allocUnsafe(bytes);
      let offset = 0;
      for (const { message } of batch) {
        sendBuffer.set(message, offset);
        offset += message.length;
      }
      data = sendBuffer.subarray(0, bytes);
    }
    this.counters.sendCalls++;
    if (batch.length === 1 && batch[0]!.pending.offloaded) {
      this.counters.offloadedSends++;
      try {
        native().sendAsync(this.handle, data, (result) => {
          this.offloadRunning = false;
          offloadEnded();
          if (this.closed) return;
          if (result < 0) this.failSent(batch, result);
          this.afterAnswers();
        });
      } catch (error) {
        // Not queued (no thread could take it): nothing reached the kernel.
        for (const { pending } of batch) {
          this.pending.delete(pending.seq);
          this.counters.errors++;
          pending.reject(error as Error);
        }
        this.afterAnswers();
        return;
      }
      // The callback runs on a later turn of the event loop, never inside sendAsync().
      this.offloadRunning = true;
      offloadStarted();
    } else {
      const result = native().send(this.handle, data);
      if (result < 0) this.failSent(batch, result);
    }
    this.armTimeout();
  }

  /** sendmsg() refused the batch: none of it reached the kernel, so no answer will come. */
  private failSent(batch: Queued[], result: number): void {
    for (const { pending } of batch) {
      if (!this.pending.delete(pending.seq)) continue;
      this.counters.errors++;
      pending.reject(new NetlinkError(-result, pending.describe()));
    }
  }

  /**
   * Fault injection: the requests the injector refuses are rejected as the kernel would (errno,
   * retriable as the errno says) without being sent; the others go on. Tests only.
   */
  private injectRefusals(batch: Queued[], faults: RequestSocketFaults): [Queued[], number] {
    const kept: Queued[] = [];
    let bytes = 0;
    for (const queued of batch) {
      const { pending } = queued;
      const errno = pending.dump ? 0 : faults.errnoFor(queued.message, pending.describe);
      if (errno === 0) {
        kept.push(queued);
        bytes += queued.message.length;
        continue;
      }
      this.counters.errors++;
      pending.reject(new NetlinkError(errno, pending.describe(), INJECTED_MESSAGE));
    }
    return [kept, bytes];
  }

  private armTimeout(): void {
    if (this.timeoutTimer || this.pending.size === 0) return;
    const period = Math.max(100, Math.floor(this.options.requestTimeoutMs / 4));
    this.timeoutTimer = setInterval(() => this.expire(), period);
    this.timeoutTimer.unref();
  }

  private expire(): void {
    const limit = Date.now() - this.options.requestTimeoutMs;
    for (const pending of this.pending.values()) {
      if (pending.sentAt > limit) continue;
      this.pending.delete(pending.seq);
      this.counters.errors++;
      pending.reject(new NetlinkTimeoutError(pending.describe(), this.options.requestTimeoutMs));
    }
    if (this.pending.size === 0 && this.timeoutTimer) {
      clearInterval(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
    this.afterAnswers();
  }

  private onDatagrams(datagrams: Buffer[]): void {
    for (const datagram of datagrams) {
      let messages: NetlinkMessage[];
      try {
        messages = splitMessages(datagram);
      } catch (error) {
        // A malformed datagram cannot be attributed to a request; the timeout will reject it.
        if (!(error instanceof NetlinkCodecError)) throw error;
        continue;
      }
      for (const message of messages) this.onMessage(message);
    }
    this.afterAnswers();
  }

  private onMessage(message: NetlinkMessage): void {
    const pending = this.pending.get(message.seq);
    if (pending === undefined) return;
    if (message.flags & NLM_F_DUMP_INTR) pending.interrupted = true;
    switch (message.type) {
      case NLMSG_NOOP:
      case NLMSG_OVERRUN:
        return;
      case NLMSG_ERROR:
      case NLMSG_DONE: {
        this.pending.delete(message.seq);
        let ack;
        try {
          ack =
            message.type === NLMSG_DONE && message.payload.length < 4
              ? { errno: 0 }
              : decodeAcknowledgement(message);
        } catch (error) {
          pending.reject(error as Error);
          return;
        }
        if (ack.errno !== 0) {
          if (pending.removal && meansNoSuchObject(errnoName(ack.errno))) this.counters.alreadyGone++;
          else this.counters.errors++;
          pending.reject(new NetlinkError(ack.errno, pending.describe(), ack.message));
        } else if (pending.dump && pending.interrupted) {
          pending.reject(new DumpInterruptedError(pending.describe(), 1));
        } else {
          pending.resolve(pending.messages);
        }
        return;
      }
      default:
        pending.messages.push(message);
    }
  }

  private onSocketError(errno: number): void {
    // ENOBUFS: acknowledgements were dropped. The requests may or may not have been applied; fail
    // them as retriable (every write we make is idempotent on retry) rather than hang.
    const error =
      errnoName(errno) === 'ENOBUFS'
        ? new NetlinkOverrunError(`netlink socket of ${this.label}`)
        : new NetlinkError(errno, `receive on netlink socket of ${this.label}`);
    for (const pending of this.pending.values()) pending.reject(error);
    this.counters.errors += this.pending.size;
    this.pending.clear();
    this.afterAnswers();
  }

  /**
   * Requests left the in-flight set: the queue goes on (a full window stops flush() from going on
   * by itself; only answers, or this, start it again), or the socket stops holding the process.
   */
  private afterAnswers(): void {
    if (this.queueHead < this.queue.length) this.scheduleFlush();
    else if (this.pending.size === 0) this.setAwaiting(false);
  }
}
