/** Errors of the Docker microservice watcher. */
import { AgentError, type AgentErrorOptions } from '../errors.js';

/** Docker's API could not be reached or its connection broke; the watcher retries by itself. */
export class DockerUnreachableError extends AgentError {
  readonly code = 'ERR_DOCKER_UNREACHABLE';
  constructor(message: string, options: AgentErrorOptions = {}) {
    super(message, { retriable: true, ...options });
  }
}

/** Docker answered something the watcher cannot read (an event or inspect without the fields it needs). */
export class DockerProtocolError extends AgentError {
  readonly code = 'ERR_DOCKER_PROTOCOL';
  constructor(message: string, options: AgentErrorOptions = {}) {
    super(message, { retriable: true, ...options });
  }
}

/** The text of any thrown value, for reasons shown to users ("connect ENOENT /var/run/docker.sock"). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Docker answered a request with an error status (other than 404 where that means "gone"). */
export class DockerRequestError extends AgentError {
  readonly code = 'ERR_DOCKER_REQUEST';
  readonly statusCode: number;
  constructor(message: string, statusCode: number, options: AgentErrorOptions = {}) {
    super(message, { retriable: true, ...options });
    this.statusCode = statusCode;
  }
}
