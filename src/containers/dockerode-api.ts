/**
 * DockerApi on a real daemon through dockerode. The socket comes from DOCKER_HOST
 * (unix:///path or tcp://host:port, as the docker CLI reads it) or /var/run/docker.sock.
 *
 * Every error is classified once, here: an HTTP error status becomes DockerRequestError (Docker
 * answered), anything else (ENOENT, ECONNREFUSED, a reset, a timeout) DockerUnreachableError, which
 * the watcher answers by reconnecting.
 */
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import type {
  ContainerDetails,
  ContainerEventHandlers,
  ContainerEventSubscription,
  DockerApi,
} from './docker-api.js';
import { parseContainerEvent, parseContainerInspect } from './docker-json.js';
import { JsonLineSplitter } from './json-lines.js';
import { DockerProtocolError, DockerRequestError, DockerUnreachableError, describeError } from './errors.js';
import { ClosedError } from '../errors.js';

/** The container events that can change whether, and where, a microservice runs. */
export const WATCHED_CONTAINER_ACTIONS = ['start', 'die', 'stop', 'kill', 'destroy', 'restart'] as const;

export interface DockerodeApiOptions {
  /** Unix socket of dockerd; default: DOCKER_HOST, else /var/run/docker.sock. */
  socketPath?: string;
  /** Limit of every request except the event stream (a hung dockerd must not hang the watcher). */
  requestTimeoutMs?: number;
}

/** Where the default client connects, for messages. */
export function defaultDockerEndpoint(): string {
  const host = process.env['DOCKER_HOST'];
  if (host === undefined || host === '') return '/var/run/docker.sock';
  return host.startsWith('unix://') ? host.slice('unix://'.length) || '/var/run/docker.sock' : host;
}

export class DockerodeApi implements DockerApi {
  private readonly docker: Docker;
  private readonly requestTimeoutMs: number;
  private readonly closing = new AbortController();
  private readonly subscriptions = new Set<ContainerEventSubscription>();

  constructor(options: DockerodeApiOptions = {}) {
    this.docker =
      options.socketPath === undefined ? new Docker() : new Docker({ socketPath: options.socketPath });
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  }

  async listRunningContainerIds(): Promise<string[]> {
    const containers = await this.request('list containers', (abortSignal) =>
      this.docker.listContainers({ all: false, abortSignal }),
    );
    return containers.map((c) => c.Id);
  }

  async inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    try {
      const document: unknown = await this.request(`inspect container ${id}`, (abortSignal) =>
        this.docker.getContainer(id).inspect({ abortSignal }),
      );
      return parseContainerInspect(document);
    } catch (error) {
      if (error instanceof DockerRequestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async subscribeContainerEvents(handlers: ContainerEventHandlers): Promise<ContainerEventSubscription> {
    this.assertOpen();
    const options: Docker.GetEventsOptions & { abortSignal: AbortSignal } = {
      filters: { type: ['container'], event: [...WATCHED_CONTAINER_ACTIONS] },
      abortSignal: this.closing.signal,
    };
    // Only the opening is timed: the stream itself stays open as long as Docker runs. A stream
    // that opens after we gave up waiting is destroyed rather than leaked.
    const opening = this.docker.getEvents(options);
    let opened: NodeJS.ReadableStream;
    try {
      opened = await this.request('open event stream', (signal) => raceAbort(opening, signal));
    } catch (error) {
      opening.then(
        (late) => (late instanceof Readable ? late.destroy() : undefined),
        () => undefined,
      );
      throw error;
    }
    const stream = opened instanceof Readable ? opened : Readable.from(opened);
    return this.track(stream, handlers);
  }

  close(): void {
    if (this.closing.signal.aborted) return;
    this.closing.abort(new ClosedError('Docker client'));
    for (const subscription of [...this.subscriptions]) subscription.close();
  }

  private track(stream: Readable, handlers: ContainerEventHandlers): ContainerEventSubscription {
    const splitter = new JsonLineSplitter();
    let ended = false;
    const end = (error: Error | undefined): void => {
      if (ended) return;
      ended = true;
      this.subscriptions.delete(subscription);
      stream.destroy();
      handlers.onEnd(error);
    };
    const subscription: ContainerEventSubscription = {
      close: () => {
        if (ended) return;
        ended = true;
        this.subscriptions.delete(subscription);
        stream.destroy();
      },
    };
    this.subscriptions.add(subscription);
    stream.on('data', (chunk: Buffer | string) => {
      if (ended) return;
      const { documents, invalidLines } = splitter.push(chunk);
      for (const document of documents) {
        const event = parseContainerEvent(document);
        if (event !== undefined) handlers.onEvent(event);
        if (ended) return;
      }
      // A line we cannot read may have been an event we needed: end, so the watcher re-lists.
      if (invalidLines.length > 0) end(new DockerProtocolError(`unreadable event: ${invalidLines[0]}`));
    });
    stream.on('error', (error: Error) =>
      end(new DockerUnreachableError(`Docker event stream failed: ${error.message}`, { cause: error })),
    );
    stream.on('end', () => end(new DockerUnreachableError('Docker closed the event stream')));
    stream.on('close', () => end(new DockerUnreachableError('Docker event stream closed')));
    return subscription;
  }

  /** Runs one request with the client's timeout and close signal, and classifies its failure. */
  private async request<T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.assertOpen();
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    try {
      return await run(signal);
    } catch (error) {
      if (this.closing.signal.aborted) throw new ClosedError('Docker client');
      throw classify(what, error, signal);
    }
  }

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw new ClosedError('Docker client');
  }
}

function classify(what: string, error: unknown, signal: AbortSignal): Error {
  const statusCode =
    typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : undefined;
  if (typeof statusCode === 'number') {
    return new DockerRequestError(`Docker could not ${what}: ${describeError(error)}`, statusCode, {
      cause: error,
    });
  }
  if (signal.aborted) {
    return new DockerUnreachableError(`Docker did not answer (${what}): timed out`, { cause: error });
  }
  return new DockerUnreachableError(describeError(error), { cause: error });
}

/** Rejects with the signal's reason as soon as it aborts, whether or not `promise` can be cancelled. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
