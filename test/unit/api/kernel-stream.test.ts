/**
 * GET /v1/kernel streams the namespaces' dumps (json-text.ts): the body is the text JSON.stringify
 * gave of the whole list, byte for byte, with the same content type; and a namespace is read only
 * once the one before it became text (every namespace of a W1 host read at once, then its ~3.5 MB
 * of text built as one string, grew the agent by ~40 MB RSS for one `netnsctl dump`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentService } from '../../../src/api/service.js';
import type { NamespaceDump } from '../../../src/agent/kernel-view.js';

function dumpOf(namespace: string, links: number): NamespaceDump {
  return {
    namespace,
    links: Array.from({ length: links }, (_, i) => ({
      index: i + 1,
      name: `l${i}`,
      hardwareType: 1,
      flags: 69699,
      up: true,
      running: true,
      lowerUp: true,
      mtu: 1400,
      group: 0,
      operState: 'up',
      altNames: [],
      mac: '02:00:00:00:00:01',
      alias: i % 2 ? `netns-agent:a:l${i}` : undefined,
      stats: { rxPackets: i, txPackets: 0 },
      ...(i % 2 ? { managed: `l${i}` } : {}),
    })) as unknown as NamespaceDump['links'],
    addresses: [
      { family: 2, prefixLength: 30, index: 1, local: '10.0.0.1', label: 'ü' },
    ] as unknown as NamespaceDump['addresses'],
    routes: [
      { family: 2, dst: '10.0.0.0', dstLength: 30, table: 254, managed: true },
    ] as unknown as NamespaceDump['routes'],
    neighbours: [],
  };
}

function serviceOf(dumps: NamespaceDump[], log: string[]): AgentService {
  return {
    subscribe: () => () => undefined,
    async *kernel(): AsyncGenerator<NamespaceDump> {
      for (const dump of dumps) {
        log.push(`read ${dump.namespace}`);
        yield dump;
      }
    },
  } as unknown as AgentService;
}

test('GET /v1/kernel: the text of JSON.stringify of every namespace, in order, as application/json', async () => {
  const dumps = [dumpOf('default', 3), dumpOf('named/ns1', 2000), dumpOf('named/ns2', 0)];
  const app = buildApi(serviceOf(dumps, []));
  try {
    const answer = await app.inject({ method: 'GET', url: '/v1/kernel' });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(answer.body, JSON.stringify(dumps));
    const empty = buildApi(serviceOf([], []));
    try {
      assert.equal((await empty.inject({ method: 'GET', url: '/v1/kernel' })).body, '[]');
    } finally {
      await empty.close();
    }
  } finally {
    await app.close();
  }
});

test('GET /v1/kernel: a namespace that cannot be read before any text is an error answer', async () => {
  const service = {
    subscribe: () => () => undefined,
    // eslint-disable-next-line require-yield
    async *kernel(): AsyncGenerator<NamespaceDump> {
      throw new Error('the namespace handle is closed');
    },
  } as unknown as AgentService;
  const app = buildApi(service);
  try {
    const answer = await app.inject({ method: 'GET', url: '/v1/kernel' });
    assert.equal(answer.statusCode, 500);
    assert.match(answer.json<{ error: string }>().error, /handle is closed/);
  } finally {
    await app.close();
  }
});

test('GET /v1/kernel over a socket: namespaces are read as the client takes the text, not all first', async () => {
  // 40 namespaces of ~1 MB of text each; the client reads the first bytes and waits.
  const dumps = Array.from({ length: 40 }, (_, i) => dumpOf(`named/ns${i}`, 4000));
  const log: string[] = [];
  const app = buildApi(serviceOf(dumps, log));
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${address.port}/v1/kernel`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Socket buffers hold a few MB at most: far from the 40 MB of the whole list.
    assert.ok(log.length < dumps.length / 2, `${log.length} of ${dumps.length} namespaces read`);
    const chunks: Uint8Array[] = [first.value];
    for (let part = await reader.read(); !part.done; part = await reader.read()) chunks.push(part.value);
    assert.equal(log.length, dumps.length);
    assert.equal(Buffer.concat(chunks).toString(), JSON.stringify(dumps));
  } finally {
    await app.close();
  }
});
