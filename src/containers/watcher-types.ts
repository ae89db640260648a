/** What the microservice watcher tells its consumers, and how they configure it. */
import type { Backoff } from './backoff.js';
import type { DockerApi } from './docker-api.js';

/** A label now resolves to a running container: configure items referencing it in its namespace. */
export interface MicroserviceUp {
  label: string;
  containerId: string;
  name: string;
  /** Host PID of the container's init process: the namespace is /proc/<pid>/ns/net. */
  pid: number;
  startedAt: string;
  /** Set when the label already resolved to another container or pid (restart, newer duplicate). */
  previous: { containerId: string; pid: number } | undefined;
}

/** No running container carries the label any more: its items are pending again. */
export interface MicroserviceDown {
  label: string;
  containerId: string;
  pid: number;
}

export interface WatcherWarning {
  /** `duplicate-label`: two running containers carry one label; `container-unreadable`: inspect failed. */
  code: 'duplicate-label' | 'container-unreadable' | 'listener-failed';
  message: string;
  label?: string;
  containerIds?: string[];
}

/**
 * idle: start() not called yet; connecting: first attempt under way; connected: event stream open
 * and the container list applied; unreachable: retrying with backoff (`reason` says why); closed.
 */
export type WatcherState = 'idle' | 'connecting' | 'connected' | 'unreachable' | 'closed';

export interface WatcherStatus {
  state: WatcherState;
  /** Human-readable, for pending reasons: "Docker is unreachable: connect ENOENT /var/run/docker.sock". */
  reason: string | undefined;
  /** When the state last changed. */
  since: Date;
  /** At least one complete list of the running containers has been applied (the map is usable). */
  synced: boolean;
  /** Consecutive failed attempts to connect. */
  failedAttempts: number;
  /** The daemon address, for messages. */
  endpoint: string;
}

export interface MicroserviceWatcherEvents {
  'microservice-up': MicroserviceUp;
  'microservice-down': MicroserviceDown;
  warning: WatcherWarning;
  status: WatcherStatus;
}

/** pino-compatible subset. */
export interface WatcherLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface MicroserviceWatcherOptions {
  /** The Docker client; default: dockerode on DOCKER_HOST or /var/run/docker.sock. */
  docker?: DockerApi;
  /** Shown in status and reasons; default: where the default client connects. */
  endpoint?: string;
  /** Delay before reconnect attempt n (0-based count of failures); default: 100 ms doubling to 2 s. */
  backoff?: Backoff;
  logger?: WatcherLogger;
}
