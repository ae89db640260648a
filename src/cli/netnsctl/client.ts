/**
 * netnsctl's view of the agent: its HTTP API (default) — the same endpoints users can call — over
 * TCP or the unix socket the daemon can listen on.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AgentError } from '../../errors.js';

export class CliError extends AgentError {
  readonly code = 'ERR_CLI';
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  server: string;
  token?: string;
}

/** Longest wait for an answer (a stream of events excepted): a hung agent must not hang scripts. */
const ANSWER_TIMEOUT_MS = 60_000;

type Target = { socketPath: string } | { host: string; port: number; base: string; secure: boolean };

/** Where the agent listens: http(s)://HOST:PORT, HOST:PORT, or unix:/path (the daemon's --http unix:/path). */
function target(server: string): Target {
  if (server.startsWith('unix:'))
    return { socketPath: server.slice('unix:'.length).replace(/^\/\/(?=\/)/, '') };
  const notServer = new CliError(`--server: ${server} is not http://HOST:PORT, HOST:PORT or unix:/path`, 2);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server);
  let url: URL;
  try {
    url = new URL(withScheme ? server : `http://${server}`);
  } catch {
    throw notServer;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notServer;
  // Without a scheme a port is needed: "garbage" was taken for a host on port 80 and reported as
  // an agent not running (exit 3) rather than a usage error.
  // (The text, not url.port: URL leaves the port out when it is the scheme's own, 80.)
  if (!withScheme && !/:\d+(\/.*)?$/.test(server)) throw notServer;
  const secure = url.protocol === 'https:';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (secure ? 443 : 80)),
    base: url.pathname.replace(/\/$/, ''),
    secure,
  };
}

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  /** Where the agent is asked (--server), for messages. */
  get server(): string {
    return this.options.server;
  }

  /** One request; resolves with the response once its headers are in (the body is read by the caller). */
  private send(
    method: string,
    path: string,
    body?: string,
    stream = false,
    extraHeaders: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    const where = target(this.options.server);
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const options =
        'socketPath' in where
          ? { socketPath: where.socketPath, path, method, headers }
          : { host: where.host, port: where.port, path: `${where.base}${path}`, method, headers };
      const secure = 'secure' in where && where.secure;
      const request = (secure ? httpsRequest : httpRequest)(options, resolve);
      if (!stream)
        request.setTimeout(ANSWER_TIMEOUT_MS, () =>
          request.destroy(
            Object.assign(new Error('no answer'), { code: `no answer in ${ANSWER_TIMEOUT_MS / 1000} s` }),
          ),
        );
      request.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          new CliError(
            `cannot reach the agent at ${this.options.server} (${error.code ?? error.message}); is netns-agent running? (--server)`,
            3,
          ),
        ),
      );
      request.end(body);
    });
  }

  async request(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
    const response = await this.send(method, path, body);
    let text = '';
    response.setEncoding('utf8');
    for await (const chunk of response) text += chunk as string;
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (e.g. /metrics); keep the text
    }
    if (response.statusCode === 401)
      throw new CliError('the agent refused the request: missing or wrong --token', 4);
    return { status: response.statusCode ?? 0, json };
  }

  async expectOk(method: string, path: string, body?: string): Promise<unknown> {
    return okOrThrow(await this.request(method, path, body));
  }

  /**
   * Opens the server-sent event stream and calls back for each event (with its id) until the
   * stream ends; `onOpen` once the agent has accepted it. With `lastEventId`, the agent first sends
   * the events after that one, or a `reset` event when it cannot (they are lost). Without, it first
   * sends a message of only an id, where the stream starts: given to `onId` (not an event).
   */
  async events(
    onEvent: (type: string, data: unknown, id: string | undefined) => void,
    options: { onOpen?: () => void; lastEventId?: string; onId?: (id: string) => void } = {},
  ): Promise<void> {
    const { onOpen, lastEventId, onId } = options;
    const headers: Record<string, string> = lastEventId ? { 'last-event-id': lastEventId } : {};
    const response = await this.send('GET', '/v1/events', undefined, true, headers);
    if (response.statusCode === 401)
      throw new CliError('the agent refused the request: missing or wrong --token', 4);
    if (response.statusCode !== 200) throw new CliError(`event stream refused: HTTP ${response.statusCode}`);
    onOpen?.();
    response.setEncoding('utf8');
    let buffer = '';
    for await (const chunk of response) {
      buffer += chunk as string;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        let data = '';
        let id: string | undefined;
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
          else if (line.startsWith('id: ')) id = line.slice(4);
        }
        if (data) onEvent(type, JSON.parse(data), id);
        else if (id !== undefined) onId?.(id);
      }
    }
  }
}

/** An answer's body, or the CliError its status says (what expectOk does with an answer in hand). */
export function okOrThrow({ status, json }: { status: number; json: unknown }): unknown {
  if (status >= 400) {
    const message = (json as { error?: string })?.error ?? `HTTP ${status}`;
    // 503: the agent is up but cannot reach its datastore (exit 3, as when the agent is not).
    throw new CliError(message, status === 404 ? 2 : status === 503 ? 3 : 1, json);
  }
  return json;
}
