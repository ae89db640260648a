/**
 * Docker microservices: which running container carries `MICROSERVICE_LABEL=<label>`, and the host
 * PID of its init process (its network namespace is /proc/<pid>/ns/net). See README.md.
 */
export { MicroserviceWatcher } from './watcher.js';
export type {
  MicroserviceDown,
  MicroserviceUp,
  MicroserviceWatcherEvents,
  MicroserviceWatcherOptions,
  WatcherLogger,
  WatcherState,
  WatcherStatus,
  WatcherWarning,
} from './watcher-types.js';
export type { Microservice } from './microservice-table.js';
export { MICROSERVICE_LABEL_ENV, microserviceLabelOf } from './container-details.js';
export type { ContainerDetails, ContainerEvent, DockerApi } from './docker-api.js';
export {
  DockerodeApi,
  WATCHED_CONTAINER_ACTIONS,
  defaultDockerEndpoint,
  type DockerodeApiOptions,
} from './dockerode-api.js';
export { exponentialBackoff, type Backoff } from './backoff.js';
export { DockerProtocolError, DockerRequestError, DockerUnreachableError } from './errors.js';
