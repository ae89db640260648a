/**
 * /v1/events (server-sent events) read with fetch, not EventSource: EventSource cannot send the
 * Authorization header, and a token in the URL would end up in logs and history. Reconnects with a
 * growing delay; the page refreshes its data on every (re)connection, so nothing missed while down
 * stays missing.
 */
import { authHeaders, storedToken } from './api.js';

export type StreamStatus = 'connecting' | 'live' | 'down' | 'token';

export interface EventStreamHandlers {
  onEvent(type: string, data: unknown): void;
  onStatus(status: StreamStatus): void;
}

/** Splits an SSE byte stream into events; `push` returns the complete ones. Pure. */
export class SseParser {
  private buffer = '';

  push(chunk: string): { type: string; data: string }[] {
    this.buffer += chunk.replace(/\r\n/g, '\n');
    const events: { type: string; data: string }[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) events.push({ type, data: data.join('\n') });
    }
    return events;
  }
}

/** No answer to the request by then: try again (a half-open connection would wait forever). */
const CONNECT_TIMEOUT_MS = 10_000;
/** The agent sends a comment every 15 s: nothing for this long means the stream is dead. */
const IDLE_TIMEOUT_MS = 45_000;

/** Follows the stream until the returned function is called. */
export function followEvents(handlers: EventStreamHandlers): () => void {
  const abort = new AbortController();
  let delay = 500;
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      handlers.onStatus('connecting');
      // One attempt: aborted by stop(), by no answer in time, or by a silent stream.
      const attempt = new AbortController();
      const stop = (): void => attempt.abort();
      abort.signal.addEventListener('abort', stop);
      let timer = setTimeout(stop, CONNECT_TIMEOUT_MS);
      try {
        const sent = storedToken();
        const response = await fetch('/v1/events', { headers: authHeaders(), signal: attempt.signal });
        if (abort.signal.aborted) return;
        if (response.status === 401) {
          // Refused with a token replaced since: the stream that follows with the new one decides.
          if (storedToken() === sent) handlers.onStatus('token');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        handlers.onStatus('live');
        delay = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          clearTimeout(timer);
          timer = setTimeout(stop, IDLE_TIMEOUT_MS);
          const { value, done } = await reader.read();
          if (done || abort.signal.aborted) break;
          for (const event of parser.push(value)) {
            let data: unknown = event.data;
            try {
              data = JSON.parse(event.data) as unknown;
            } catch {
              // not JSON: passed on as text
            }
            handlers.onEvent(event.type, data);
          }
        }
      } catch {
        // the connection failed, timed out or ended: retried below
      } finally {
        clearTimeout(timer);
        abort.signal.removeEventListener('abort', stop);
      }
      if (abort.signal.aborted) return;
      handlers.onStatus('down');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => abort.abort();
}
