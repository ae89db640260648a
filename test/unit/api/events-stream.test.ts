/**
 * /v1/events: a client that does not read is cut off past a bound, not buffered for ever; events
 * carry ids, and a client that comes back with the last one it took gets what it missed, or a
 * `reset` when that is lost.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../../src/api/server.js';
import { EventLog } from '../../../src/api/event-log.js';
import type { AgentEvent, AgentService } from '../../../src/api/service.js';

/** Only what the event stream uses of the service; `emit` plays the agent. */
function fakeService(): { service: AgentService; emit(event: AgentEvent): void } {
  const listeners = new Set<(event: AgentEvent) => void>();
  const service = {
    subscribe(listener: (event: AgentEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as AgentService;
  return { service, emit: (event) => listeners.forEach((listener) => listener(event)) };
}

async function listening(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

function connections(app: FastifyInstance): Promise<number> {
  return new Promise((resolve, reject) =>
    app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

const state = (key: string): AgentEvent => ({ type: 'state', data: { key, state: 'configured' } });

interface Message {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads a stream's messages (comments aside) until `count` have come. */
async function readMessages(
  port: number,
  headers: Record<string, string>,
  count: number,
): Promise<Message[]> {
  const controller = new AbortController();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      headers,
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const messages: Message[] = [];
    let buffer = '';
    while (messages.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: Message = {};
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(': ');
          if (field === 'id' || field === 'event' || field === 'data') message[field] = rest.join(': ');
        }
        if (message.event !== undefined) messages.push(message);
      }
    }
    return messages;
  } finally {
    controller.abort();
  }
}

test('an event client that does not read is cut off once what it has not taken passes the bound', async () => {
  const { service, emit } = fakeService();
  const app = buildApi(service, { maxUnreadEventBytes: 1024 * 1024 });
  const port = await listening(app);
  const socket = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await connections(app), 1, 'connected');
    const big: AgentEvent = { type: 'state', data: { key: 'k', reason: 'x'.repeat(256 * 1024) } };
    for (let round = 0; round < 400 && (await connections(app)) > 0; round++) {
      emit(big);
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(await connections(app), 0, 'cut off');
  } finally {
    socket.destroy();
    await app.close();
  }
});

test('a client back with the id of the last event it took gets those after it, then the new ones', async () => {
  const { service, emit } = fakeService();
  const app = buildApi(service);
  const port = await listening(app);
  try {
    // Events happen with no client connected: they are kept all the same.
    emit(state('a'));
    emit(state('b'));
    emit(state('c'));
    const first = readMessages(port, {}, 1);
    await new Promise((r) => setTimeout(r, 50));
    emit(state('d'));
    const [d] = await first;
    assert.match(d!.id!, /^[0-9a-f]+-4$/);
    assert.equal(JSON.parse(d!.data!).key, 'd');
    const run = d!.id!.split('-')[0]!;

    const again = readMessages(port, { 'last-event-id': `${run}-1` }, 4);
    await new Promise((r) => setTimeout(r, 50));
    emit(state('e'));
    const replayed = await again;
    assert.deepEqual(
      replayed.map((m) => [m.id, JSON.parse(m.data!).key]),
      [
        [`${run}-2`, 'b'],
        [`${run}-3`, 'c'],
        [`${run}-4`, 'd'],
        [`${run}-5`, 'e'],
      ],
    );

    // Up to date: nothing is replayed.
    const current = readMessages(port, { 'last-event-id': `${run}-5` }, 1);
    await new Promise((r) => setTimeout(r, 50));
    emit(state('f'));
    assert.deepEqual(
      (await current).map((m) => m.id),
      [`${run}-6`],
    );
  } finally {
    await app.close();
  }
});

test('a client back with an id of another run, or one no longer kept, is told to start over', async () => {
  const { service, emit } = fakeService();
  const app = buildApi(service, { eventLogSize: 3 });
  const port = await listening(app);
  try {
    for (const key of ['a', 'b', 'c', 'd', 'e']) emit(state(key));
    const [last] = await (async () => {
      const reading = readMessages(port, {}, 1);
      await new Promise((r) => setTimeout(r, 50));
      emit(state('f'));
      return reading;
    })();
    const run = last!.id!.split('-')[0]!;
    const cases: [string, RegExp][] = [
      ['0123abcd-2', /restarted/],
      [`${run}-1`, /no longer kept/],
      [`${run}-99`, /never sent/],
      ['garbage', /unknown event id/],
    ];
    for (const [id, reason] of cases) {
      const [reset] = await readMessages(port, { 'last-event-id': id }, 1);
      assert.equal(reset!.event, 'reset', id);
      assert.match(JSON.parse(reset!.data!).reason, reason, id);
      // where to go on from: the last event given
      assert.equal(reset!.id, `${run}-6`, id);
    }
    // Kept (the last 3 of 6): those after 3 come back.
    const kept = await readMessages(port, { 'last-event-id': `${run}-3` }, 3);
    assert.deepEqual(
      kept.map((m) => JSON.parse(m.data!).key),
      ['d', 'e', 'f'],
    );
  } finally {
    await app.close();
  }
});

test('a new client is first told where its stream starts: a message of only an id, to come back with', async () => {
  const { service, emit } = fakeService();
  const app = buildApi(service);
  const port = await listening(app);
  const controller = new AbortController();
  try {
    emit(state('a'));
    emit(state('b'));
    const response = await fetch(`http://127.0.0.1:${port}/v1/events`, { signal: controller.signal });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await new Promise((r) => setTimeout(r, 50));
    emit(state('c'));
    let text = '';
    while (!text.includes('data: ')) text += (await reader.read()).value ?? '';
    // The comment, the id of the last event given then (no event, no data: not dispatched), the event.
    const [, start, run] =
      /^: netns-agent events\n\nid: (([0-9a-f]+)-2)\n\nevent: state\nid: \2-3\n/.exec(text) ?? [];
    assert.ok(start && run, text);

    // Back with it (as a client that had seen no event yet): what came after, not a reset.
    const replayed = await readMessages(port, { 'last-event-id': start }, 1);
    assert.deepEqual(
      replayed.map((m) => [m.id, JSON.parse(m.data!).key]),
      [[`${run}-3`, 'c']],
    );
    // Back at another agent (this one restarted): told that events were missed.
    const other = fakeService();
    const restarted = buildApi(other.service);
    const otherPort = await listening(restarted);
    try {
      other.emit(state('x'));
      const [reset] = await readMessages(otherPort, { 'last-event-id': start }, 1);
      assert.equal(reset!.event, 'reset');
      assert.match(JSON.parse(reset!.data!).reason, /restarted/);
    } finally {
      await restarted.close();
    }
  } finally {
    controller.abort();
    await app.close();
  }
});

test('the event log holds on to at most a quarter more events than its size', () => {
  const log = new EventLog(8);
  let most = 0;
  for (let i = 0; i < 1000; i++) {
    log.add(state(`k${i}`));
    most = Math.max(most, log.retained);
  }
  assert.ok(most <= 10, `held ${most}`);
  // the last 8 are there still
  const replay = log.resume(`${log.run}-992`);
  assert.equal(replay.kind, 'replay');
  assert.equal(replay.kind === 'replay' ? replay.events.length : 0, 8);
  assert.equal(log.resume(`${log.run}-991`).kind, 'reset');
});

test('a message starts with its event type and ends with its data, as before ids were sent', () => {
  // Clients written then (the benchmarks' own follower was one) take a block starting
  // "event: state" and parse the data from "data: " to the block's end.
  const text = new EventLog().add(state('a')).text;
  assert.match(text, /^event: state\nid: [0-9a-f]+-1\ndata: \{"key":"a","state":"configured"\}\n\n$/);
});

test('HEAD /v1/events answers with the stream headers and ends', async () => {
  const { service, emit } = fakeService();
  const app = buildApi(service);
  const port = await listening(app);
  try {
    // Before, node held back a HEAD answer's headers until the stream ended: it never came.
    const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(2000),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    assert.equal(await response.text(), '');
    // A GET still streams (events go on coming: one sent before it subscribed is not its own).
    const ticker = setInterval(() => emit(state('a')), 20);
    try {
      const [message] = await readMessages(port, {}, 1);
      assert.equal(message!.event, 'state');
    } finally {
      clearInterval(ticker);
    }
  } finally {
    await app.close();
  }
});
