/** /v1/events: a client that does not read is cut off past a bound, not buffered for ever. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentEvent, AgentService } from '../../../src/api/service.js';

test('an event client that does not read is cut off once what it has not taken passes the bound', async () => {
  const listeners = new Set<(event: AgentEvent) => void>();
  // Only what the event stream uses of the service.
  const service = {
    subscribe(listener: (event: AgentEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as AgentService;
  const app = buildApi(service, { maxUnreadEventBytes: 1024 * 1024 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads
    for (let i = 0; i < 200 && listeners.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(listeners.size, 1, 'subscribed');
    const big = {
      type: 'state',
      data: { key: 'k', reason: 'x'.repeat(256 * 1024) },
    } as unknown as AgentEvent;
    for (let round = 0; round < 400 && listeners.size > 0; round++) {
      for (const listener of [...listeners]) listener(big);
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(listeners.size, 0, 'cut off and unsubscribed');
  } finally {
    socket.destroy();
    await app.close();
  }
});
