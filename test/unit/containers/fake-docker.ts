/**
 * A DockerApi that tests drive by hand: containers are plain records, events are emitted when the
 * test says so, and the daemon can be made unreachable or slow (inspects held until released).
 */
import type {
  ContainerDetails,
  ContainerEventHandlers,
  ContainerEventSubscription,
  DockerApi,
} from '../../../src/containers/docker-api.js';
import { DockerRequestError, DockerUnreachableError } from '../../../src/containers/errors.js';

export class FakeDocker implements DockerApi {
  readonly containers = new Map<string, ContainerDetails>();
  /** When set, requests fail with this connection error. */
  unreachable: string | undefined;
  /** Inspects of these ids fail with an HTTP 500. */
  readonly brokenIds = new Set<string>();
  /** While true, inspects wait until release() (to interleave events with a list). */
  holdInspects = false;
  readonly calls: string[] = [];
  closed = false;
  private readonly streams = new Set<ContainerEventHandlers>();
  private held: Array<() => void> = [];
  private clock = 1_700_000_000_000;

  /** Starts (or restarts) a container: new pid, new StartedAt, then a `start` event. */
  run(
    id: string,
    label: string | undefined,
    pid: number,
    options: { quiet?: boolean; name?: string } = {},
  ): void {
    this.clock += 1000;
    this.containers.set(id, {
      id,
      name: options.name ?? `c-${id}`,
      running: true,
      pid,
      startedAt: new Date(this.clock).toISOString().replace('.000Z', `.${String(pid).padStart(9, '0')}Z`),
      env: label === undefined ? ['PATH=/bin'] : ['PATH=/bin', `MICROSERVICE_LABEL=${label}`],
    });
    if (options.quiet !== true) this.emit(id, 'start');
  }

  /** The container exits: `die` then `stop` events. */
  stop(id: string, options: { quiet?: boolean } = {}): void {
    const c = this.containers.get(id);
    if (c !== undefined) this.containers.set(id, { ...c, running: false, pid: 0 });
    if (options.quiet !== true) {
      this.emit(id, 'die');
      this.emit(id, 'stop');
    }
  }

  remove(id: string): void {
    this.containers.delete(id);
    this.emit(id, 'destroy');
  }

  emit(id: string, action: string): void {
    for (const stream of this.streams) stream.onEvent({ id, action });
  }

  /** Ends every open event stream, as a daemon restart or a network cut does. */
  breakStreams(reason = 'socket hang up'): void {
    for (const stream of [...this.streams]) {
      this.streams.delete(stream);
      stream.onEnd(new DockerUnreachableError(reason));
    }
  }

  get openStreams(): number {
    return this.streams.size;
  }

  release(): void {
    this.holdInspects = false;
    const held = this.held;
    this.held = [];
    for (const resume of held) resume();
  }

  async listRunningContainerIds(): Promise<string[]> {
    this.calls.push('list');
    this.check();
    return [...this.containers.values()].filter((c) => c.running).map((c) => c.id);
  }

  async inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    this.calls.push(`inspect ${id}`);
    this.check();
    // Docker answers with the state at the time of the request, even if the answer is slow.
    const c = this.containers.get(id);
    const snapshot = c === undefined ? undefined : { ...c };
    if (this.holdInspects) await new Promise<void>((resolve) => this.held.push(resolve));
    this.check();
    if (this.brokenIds.has(id)) throw new DockerRequestError('(HTTP code 500) server error', 500);
    return snapshot;
  }

  async subscribeContainerEvents(handlers: ContainerEventHandlers): Promise<ContainerEventSubscription> {
    this.calls.push('subscribe');
    this.check();
    this.streams.add(handlers);
    return { close: () => this.streams.delete(handlers) };
  }

  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.unreachable !== undefined) throw new DockerUnreachableError(this.unreachable);
  }
}

/** Polls `condition` until it holds (or fails after `timeoutMs`). */
export async function eventually(
  condition: () => boolean,
  timeoutMs = 2000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
