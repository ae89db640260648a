/**
 * MicroserviceWatcher: keeps label -> running container (pid, id) in step with Docker and tells
 * consumers when a label comes up, moves to another pid, or goes down.
 *
 * States (see WatcherState): idle -> connecting -> connected <-> unreachable -> closed. Each
 * connection opens the event stream first and lists the running containers second, so nothing that
 * happens between the two is missed; it is "connected" (and `ready` resolves, the first time) only
 * once every listed container has been inspected. Any failure of the stream or of a request ends the
 * connection; the next one, after the injected backoff, re-lists and emits only the differences.
 *
 * Work is level-based and serialised per container: an event only marks its container dirty, and one
 * worker per container re-reads it from Docker (or, for die/destroy, drops it at once) until no newer
 * event is waiting. So events arriving out of order, in bursts, or during a list cannot leave a stale
 * answer behind, and a start reaches consumers one inspect (a few ms) after Docker reports it.
 *
 * While Docker is unreachable the last known map is kept (containers may well survive a dockerd
 * restart); the re-list after reconnecting corrects it.
 */
import { DOCKER_MAX_BACKOFF_MS, exponentialBackoff, type Backoff } from './backoff.js';
import type { ContainerEventSubscription, DockerApi } from './docker-api.js';
import { DockerodeApi, defaultDockerEndpoint } from './dockerode-api.js';
import { DockerUnreachableError, describeError } from './errors.js';
import { LatestHintQueue } from './latest-hint-queue.js';
import { Listeners } from './listeners.js';
import { MicroserviceTable, type Microservice, type TableChange } from './microservice-table.js';
import type {
  MicroserviceWatcherEvents,
  MicroserviceWatcherOptions,
  WatcherLogger,
  WatcherState,
  WatcherStatus,
} from './watcher-types.js';
import { ClosedError } from '../errors.js';

/** Events after which the container certainly no longer runs: no need to ask Docker. */
const GONE_ACTIONS = new Set(['die', 'destroy']);
/** Hint used when a container is re-read because of a (re-)list. */
const LIST = 'list';

/** One connection to Docker: it ends once, with the reason. */
class Connection {
  private finish: (reason: Error) => void = () => undefined;
  readonly ended: Promise<Error>;
  endReason: Error | undefined;
  subscription: ContainerEventSubscription | undefined;

  constructor() {
    this.ended = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  end(reason: Error): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.subscription?.close();
    this.finish(reason);
  }
}

export class MicroserviceWatcher {
  /** Resolves once the first complete container list is applied; rejects if closed before. */
  readonly ready: Promise<void>;

  private readonly docker: DockerApi;
  private readonly backoff: Backoff;
  private readonly logger: WatcherLogger | undefined;
  private readonly endpoint: string;
  private readonly table = new MicroserviceTable();
  private readonly listeners: Listeners<MicroserviceWatcherEvents>;
  /** Refreshes of single containers, one at a time per container, latest event wins. */
  private readonly refreshes: LatestHintQueue<string>;

  private currentStatus: WatcherStatus;
  private connection: Connection | undefined;
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private resolveReady: () => void = () => undefined;
  private rejectReady: (error: Error) => void = () => undefined;

  constructor(options: MicroserviceWatcherOptions = {}) {
    this.docker = options.docker ?? new DockerodeApi();
    this.backoff = options.backoff ?? exponentialBackoff({ maxMs: DOCKER_MAX_BACKOFF_MS });
    this.logger = options.logger;
    this.endpoint = options.endpoint ?? (options.docker === undefined ? defaultDockerEndpoint() : 'docker');
    // A list's re-read must not replace a real event still waiting (a die must stay a die).
    this.refreshes = new LatestHintQueue(
      (id, action) => this.refresh(id, action),
      (_waiting, next) => next === LIST,
    );
    this.listeners = new Listeners((name, error) => this.reportListenerError(String(name), error));
    this.currentStatus = {
      state: 'idle',
      reason: undefined,
      since: new Date(),
      synced: false,
      failedAttempts: 0,
      endpoint: this.endpoint,
    };
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody has to await `ready`; a close before the first sync must not crash the process.
    this.ready.catch(() => undefined);
  }

  /** Subscribes; returns the unsubscribe function. Subscribe before start() to hear the initial list. */
  on<Name extends keyof MicroserviceWatcherEvents>(
    name: Name,
    listener: (payload: MicroserviceWatcherEvents[Name]) => void,
  ): () => void {
    return this.listeners.on(name, listener);
  }

  /** Starts connecting to Docker (idempotent). Reconnects by itself until close(). */
  start(): void {
    if (this.closing !== undefined) throw new ClosedError('microservice watcher');
    if (this.loop !== undefined) return;
    this.loop = this.run();
  }

  /** The running container `label` resolves to. Undefined also before the first sync: see pendingReason. */
  get(label: string): Microservice | undefined {
    this.assertOpen();
    return this.table.get(label);
  }

  /** Every label that resolves to a running container. */
  list(): Microservice[] {
    this.assertOpen();
    return this.table.microservices();
  }

  /** The label a running container carries, if we track it. */
  labelOf(containerId: string): string | undefined {
    this.assertOpen();
    return this.table.labelOf(containerId);
  }

  /**
   * Why an item referencing `label` cannot be applied now, or undefined when the label resolves to a
   * running container (and the map is in sync with Docker). While Docker is unreachable it is said
   * even for a label of the last known map: its item waits because the container's process is
   * gone (e.g. stopped with dockerd), which Docker cannot tell us now.
   */
  pendingReason(label: string): string | undefined {
    this.assertOpen();
    const { state, reason, synced } = this.currentStatus;
    if (!synced) {
      if (state === 'unreachable') return reason;
      return `waiting for the list of Docker containers (microservice ${label})`;
    }
    if (state === 'unreachable')
      return `waiting for microservice ${label} (${reason ?? 'Docker is unreachable'})`;
    if (this.table.get(label) !== undefined) return undefined;
    return `waiting for microservice ${label}`;
  }

  status(): WatcherStatus {
    return { ...this.currentStatus };
  }

  /** Stops watching and releases the Docker connection. Idempotent; resolves when all work stopped. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = (async () => {
      this.setStatus('closed', undefined);
      this.rejectReady(new ClosedError('microservice watcher'));
      this.connection?.end(new ClosedError('microservice watcher'));
      this.wakeUp?.();
      this.docker.close();
      await this.loop;
      await this.refreshes.stop();
      this.listeners.clear();
    })();
    return this.closing;
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('microservice watcher');
  }

  private async run(): Promise<void> {
    this.setStatus('connecting', undefined);
    let failures = 0;
    while (!this.closed) {
      let why: Error;
      try {
        why = await this.connectAndFollow();
        failures = 0;
      } catch (error) {
        why = error instanceof Error ? error : new Error(String(error));
        failures += 1;
      }
      if (this.closed) break;
      this.currentStatus.failedAttempts = failures;
      const reason = `Docker is unreachable: ${describeError(why)}`;
      if (this.currentStatus.state !== 'unreachable' || this.currentStatus.reason !== reason) {
        this.logger?.warn({ endpoint: this.endpoint, err: describeError(why), failures }, reason);
        this.setStatus('unreachable', reason);
      }
      await this.sleep(this.backoff(Math.max(0, failures - 1)));
    }
  }

  /**
   * One connection: open the event stream, apply the full list, then follow events until the
   * connection ends. Returns why it ended; throws if it never got in sync.
   */
  private async connectAndFollow(): Promise<Error> {
    const connection = new Connection();
    this.connection = connection;
    connection.subscription = await this.docker.subscribeContainerEvents({
      onEvent: (event) => {
        if (!this.closed) void this.refreshes.schedule(event.id, event.action);
      },
      onEnd: (error) => connection.end(error ?? new DockerUnreachableError('Docker closed the event stream')),
    });
    if (connection.endReason !== undefined || this.closed) {
      connection.subscription.close();
      throw connection.endReason ?? new ClosedError('microservice watcher');
    }

    const running = await this.docker.listRunningContainerIds();
    // Also re-read those we believe run but Docker did not list: they stopped while we were away.
    const ids = new Set([...running, ...this.table.containerIds()]);
    await Promise.all([...ids].map((id) => this.refreshes.schedule(id, LIST)));
    if (connection.endReason !== undefined) throw connection.endReason;
    if (this.closed) throw new ClosedError('microservice watcher');

    this.currentStatus.synced = true;
    this.currentStatus.failedAttempts = 0;
    this.setStatus('connected', undefined);
    this.logger?.info(
      { endpoint: this.endpoint, microservices: this.table.microservices().length },
      'Docker containers in sync',
    );
    this.resolveReady();
    return connection.ended;
  }

  /** Brings one container's entry in line with Docker. */
  private async refresh(id: string, action: string): Promise<void> {
    if (GONE_ACTIONS.has(action)) {
      this.apply(this.table.remove(id));
      return;
    }
    try {
      const details = await this.docker.inspectContainer(id);
      if (this.closed) return;
      this.apply(details === undefined ? this.table.remove(id) : this.table.update(details));
    } catch (error) {
      if (this.closed) return;
      if (error instanceof DockerUnreachableError || !(error instanceof Error)) {
        // The connection is gone; the next one re-lists everything, this container included.
        this.connection?.end(error instanceof Error ? error : new DockerUnreachableError(String(error)));
        return;
      }
      // Docker answered but not usefully: keep what we knew, say so, and let the next event retry.
      this.emitWarning({
        code: 'container-unreadable',
        message: `cannot read container ${id}: ${describeError(error)}`,
        containerIds: [id],
      });
    }
  }

  private apply(changes: TableChange[]): void {
    for (const change of changes) {
      switch (change.kind) {
        case 'up': {
          const { label, containerId, name, pid, startedAt } = change.microservice;
          const previous =
            change.previous === undefined
              ? undefined
              : { containerId: change.previous.containerId, pid: change.previous.pid };
          this.logger?.info({ label, containerId, pid, previous }, 'microservice up');
          this.listeners.emit('microservice-up', { label, containerId, name, pid, startedAt, previous });
          break;
        }
        case 'down': {
          const { label, containerId, pid } = change.previous;
          this.logger?.info({ label, containerId, pid }, 'microservice down');
          this.listeners.emit('microservice-down', { label, containerId, pid });
          break;
        }
        case 'duplicate': {
          const others = change.others.map((o) => `${o.name} (${o.containerId.slice(0, 12)})`).join(', ');
          this.emitWarning({
            code: 'duplicate-label',
            label: change.label,
            containerIds: [change.winner.containerId, ...change.others.map((o) => o.containerId)],
            message:
              `microservice ${change.label} runs in several containers; using the newest, ` +
              `${change.winner.name} (${change.winner.containerId.slice(0, 12)}), not ${others}`,
          });
          break;
        }
      }
    }
  }

  private emitWarning(warning: MicroserviceWatcherEvents['warning']): void {
    this.logger?.warn(
      { code: warning.code, label: warning.label, containerIds: warning.containerIds },
      warning.message,
    );
    this.listeners.emit('warning', warning);
  }

  private reportListenerError(name: string, error: unknown): void {
    const message = `a ${name} listener failed: ${describeError(error)}`;
    this.logger?.warn({ event: name, err: describeError(error) }, message);
    if (name !== 'warning') this.listeners.emit('warning', { code: 'listener-failed', message });
  }

  private setStatus(state: WatcherState, reason: string | undefined): void {
    this.currentStatus = { ...this.currentStatus, state, reason, since: new Date() };
    this.listeners.emit('status', this.status());
  }

  /** Waits `ms`, or less if close() wakes us. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
