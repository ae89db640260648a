/** netnsctl's view of the agent: its HTTP API (default) — the same endpoints users can call. */
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

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  private url(path: string): string {
    return `${this.options.server.replace(/\/$/, '')}${path}`;
  }

  async request(method: string, path: string, body?: string): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers: {
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(
        `cannot reach the agent at ${this.options.server} (${cause}); is netns-agent running? (--server)`,
        3,
      );
    }
    const text = await response.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (e.g. /metrics); keep the text
    }
    if (response.status === 401)
      throw new CliError('the agent refused the request: missing or wrong --token', 4);
    return { status: response.status, json };
  }

  async expectOk(method: string, path: string, body?: string): Promise<unknown> {
    const { status, json } = await this.request(method, path, body);
    if (status >= 400) {
      const message = (json as { error?: string })?.error ?? `HTTP ${status}`;
      throw new CliError(message, status === 404 ? 2 : 1, json);
    }
    return json;
  }

  /** Opens the server-sent event stream and calls back for each event until the process ends. */
  async events(onEvent: (type: string, data: unknown) => void): Promise<void> {
    const response = await fetch(this.url('/v1/events'), {
      headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
    }).catch((error: unknown) => {
      throw new CliError(`cannot reach the agent at ${this.options.server}: ${(error as Error).message}`, 3);
    });
    if (!response.ok || !response.body) throw new CliError(`event stream refused: HTTP ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(type, JSON.parse(data));
      }
    }
  }
}
