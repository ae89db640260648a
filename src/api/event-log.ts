/**
 * The agent's events as server-sent-event messages with ids, and the most recent ones kept, so a
 * client that lost its stream (a network blip, a cut-off for not reading, a browser tab woken up)
 * gets what it missed when it comes back with `Last-Event-ID` (EventSource sends it by itself),
 * or learns that it missed too much and must read the state again.
 *
 * Ids are `<run>-<n>`: `run` is drawn once per agent process, so an id of an earlier run (the agent
 * restarted) is recognised as such and never taken for a place in this run's events.
 */
import { randomBytes } from 'node:crypto';
import type { AgentEvent } from './service.js';

/** What the log keeps at most: the newest events (W1's first apply makes ~9000). */
export const EVENT_LOG_SIZE = 20_000;

/** One event with its number; its message is made when first sent (most are sent to nobody). */
export class LoggedEvent {
  private message: string | undefined;

  constructor(
    readonly seq: number,
    private readonly run: string,
    private readonly event: AgentEvent,
  ) {}

  /**
   * The whole message: `event:`, `id:`, `data:` and the blank line. The id is not first, nor data
   * last but one: clients written before ids were sent (a block starting "event: state", the data
   * from "data: " to its end) read these as they read those.
   */
  get text(): string {
    this.message ??= `event: ${this.event.type}\nid: ${this.run}-${this.seq}\ndata: ${JSON.stringify(this.event.data)}\n\n`;
    return this.message;
  }
}

/** Where a client that comes back with an id picks up again. */
export type Resumption =
  | { kind: 'replay'; events: readonly LoggedEvent[] }
  /** Its id is of another run, unknown, or older than what the log still holds. */
  | { kind: 'reset'; reason: string };

export class EventLog {
  readonly run = randomBytes(4).toString('hex');
  private readonly kept: LoggedEvent[] = [];
  private keptHead = 0;
  private seq = 0;

  constructor(private readonly size = EVENT_LOG_SIZE) {}

  /** Gives the event its number and keeps it. */
  add(event: AgentEvent): LoggedEvent {
    const logged = new LoggedEvent(++this.seq, this.run, event);
    this.kept.push(logged);
    if (this.kept.length - this.keptHead > this.size) this.keptHead++;
    // Drop the consumed head now and then (not per event: a shift per event is quadratic), soon
    // enough that at most a quarter more than the size stays referenced.
    if (this.keptHead > 0 && this.keptHead >= this.size / 4) {
      this.kept.splice(0, this.keptHead);
      this.keptHead = 0;
    }
    return logged;
  }

  /** How many events the log holds on to now (kept, and not yet spliced off): at most 1.25 x its size. */
  get retained(): number {
    return this.kept.length;
  }

  /** The id of the last event given (the place a client told to start over starts from). */
  get lastId(): string {
    return `${this.run}-${this.seq}`;
  }

  /** The events after `lastEventId`, or why the client must read the state again. */
  resume(lastEventId: string): Resumption {
    const match = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId.trim());
    if (!match) return { kind: 'reset', reason: `unknown event id ${JSON.stringify(lastEventId)}` };
    if (match[1] !== this.run) return { kind: 'reset', reason: 'the agent restarted since that event' };
    const after = Number(match[2]);
    if (after > this.seq) return { kind: 'reset', reason: `event ${lastEventId} was never sent` };
    const oldest = this.kept[this.keptHead]?.seq ?? this.seq + 1;
    if (after + 1 < oldest) return { kind: 'reset', reason: 'events after that one are no longer kept' };
    // Numbers are consecutive in the log: the position follows from the number.
    return { kind: 'replay', events: this.kept.slice(this.keptHead + (after + 1 - oldest)) };
  }
}

/** The event log and the clients connected now, each given every new event. */
export class EventFanOut {
  readonly log: EventLog;
  private readonly clients = new Set<(event: LoggedEvent) => void>();

  constructor(size?: number) {
    this.log = new EventLog(size);
  }

  publish(event: AgentEvent): void {
    const logged = this.log.add(event);
    for (const client of this.clients) client(logged);
  }

  subscribe(client: (event: LoggedEvent) => void): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
  }
}
