/**
 * The narrow seam between the microservice watcher and Docker: the calls it needs and nothing
 * more. dockerode-api.ts implements it on a real daemon; unit tests implement it with a fake they
 * drive by hand (planned failures, events in any order), so the watcher's logic is tested without
 * a daemon.
 */

/** What the watcher needs to know about one container, from `GET /containers/<id>/json`. */
export interface ContainerDetails {
  /** Full 64-hex container id. */
  id: string;
  /** Container name without Docker's leading slash. */
  name: string;
  running: boolean;
  /** Host PID of the container's init process (0 when not running). */
  pid: number;
  /** State.StartedAt as Docker reports it (RFC 3339, nanoseconds). */
  startedAt: string;
  /** Config.Env: `KEY=value` strings. */
  env: readonly string[];
}

/** One container event from `GET /events` (only the fields the watcher reads). */
export interface ContainerEvent {
  /** `start`, `die`, `stop`, `kill`, `destroy`, `restart`, ... (`Action`, e.g. `exec_start: sh` too). */
  action: string;
  /** Container id (`Actor.ID`). */
  id: string;
}

export interface ContainerEventHandlers {
  onEvent(event: ContainerEvent): void;
  /** The stream ended or failed; called once, never after close(). */
  onEnd(error: Error | undefined): void;
}

export interface ContainerEventSubscription {
  /** Stops the stream; idempotent; onEnd is not called afterwards. */
  close(): void;
}

export interface DockerApi {
  /** Ids of the running containers. */
  listRunningContainerIds(): Promise<string[]>;
  /** Details of one container, or undefined when Docker no longer knows it (404). */
  inspectContainer(id: string): Promise<ContainerDetails | undefined>;
  /** Opens the container event stream; resolves once Docker accepted it (events flow from then on). */
  subscribeContainerEvents(handlers: ContainerEventHandlers): Promise<ContainerEventSubscription>;
  /** Aborts requests in flight and releases the connection; idempotent. */
  close(): void;
}
