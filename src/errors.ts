/**
 * The base of every error netns-agent throws on purpose. Like undici's errors, each class has a
 * stable `code` callers and the API can branch on; `retriable` marks transient failures that the
 * scheduler retries with backoff. `key` and `field` name the configuration item and field involved
 * when there is one.
 */
export interface AgentErrorOptions {
  key?: string;
  field?: string;
  retriable?: boolean;
  cause?: unknown;
}

export abstract class AgentError extends Error {
  abstract readonly code: string;
  readonly key: string | undefined;
  readonly field: string | undefined;
  readonly retriable: boolean;

  constructor(message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.key = options.key;
    this.field = options.field;
    this.retriable = options.retriable ?? false;
  }
}

/** Use of a resource (socket, handle, watcher, store) after its close(). */
export class ClosedError extends AgentError {
  readonly code = 'ERR_CLOSED';
  constructor(what: string) {
    super(`${what} is closed`);
  }
}

/** True when an error says the operation may succeed if tried again later. */
export function isRetriable(error: unknown): boolean {
  return error instanceof AgentError && error.retriable;
}
