/**
 * JSON text in pieces (src/api/json-text.ts): the same characters as JSON.stringify, and elements
 * read one at a time as the text is taken (a W1 kernel dump was built whole, then sent).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonArrayChunks, jsonBody, jsonPieces } from '../../../src/api/json-text.js';

class Point {
  constructor(
    readonly x: number,
    readonly y?: number,
  ) {}
}

const SAMPLES: unknown[] = [
  null,
  0,
  -1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  'text with "quotes", \\ and \n, \u2028, é, \ud83d\ude00 and a lone \ud800',
  true,
  [],
  {},
  [1, undefined, () => 1, Symbol('s'), null, [[], [{}]]],
  { a: 1, b: undefined, c: () => 1, d: Symbol('s'), e: null, f: { g: [1, { h: 'i' }] }, '"k"': 2 },
  { when: new Date(Date.UTC(2026, 11, 3)), json: { toJSON: () => ({ was: 'toJSON' }) } },
  { point: new Point(1), points: [new Point(2, 3)] },
  Object.assign(Object.create(null) as Record<string, unknown>, { bare: [1, 2] }),
  // Array holes: null in the text.
  // eslint-disable-next-line no-sparse-arrays
  [1, , 3],
  {
    namespace: 'named/ns1',
    links: [{ index: 1, name: 'lo', stats: { rxPackets: 1 }, managed: undefined }],
    addresses: [],
    routes: [{ dst: '10.0.0.0', managed: true }],
    neighbours: [{ ip: '10.0.0.1', mac: '02:00:00:00:00:01' }],
  },
];

test('jsonPieces: the text of JSON.stringify at every depth', () => {
  SAMPLES.forEach((value, i) => {
    for (const depth of [0, 1, 2, 3, 10])
      assert.equal(
        [...jsonPieces(value, depth)].join(''),
        JSON.stringify(value),
        `sample ${i}, depth ${depth}`,
      );
  });
});

test('jsonArrayChunks: JSON.stringify of the elements as an array, for every chunk size', async () => {
  const elements = [...SAMPLES, undefined, () => 1];
  for (const size of [1, 2, 7, 64, 1 << 20])
    for (const depth of [0, 1, 2, 3]) {
      const chunks: string[] = [];
      for await (const chunk of jsonArrayChunks(elements, depth, size)) chunks.push(chunk);
      assert.equal(chunks.join(''), JSON.stringify(elements), `size ${size}, depth ${depth}`);
    }
  const none: string[] = [];
  for await (const chunk of jsonArrayChunks([], 2)) none.push(chunk);
  assert.equal(none.join(''), '[]');
});

test('jsonArrayChunks: chunks stay near their size when one element is large, opened to depth', async () => {
  // One namespace of 5000 routes (~60 characters each): its text is ~300 KB.
  const big = { namespace: 'n', routes: Array.from({ length: 5000 }, (_, i) => ({ dst: `10.${i}.0.0`, i })) };
  const lengths: number[] = [];
  for await (const chunk of jsonArrayChunks([big], 2, 1024)) lengths.push(chunk.length);
  const longestElement = Math.max(...big.routes.map((r) => JSON.stringify(r).length));
  assert.ok(lengths.length > 100, `${lengths.length} chunks`);
  assert.ok(Math.max(...lengths) < 1024 + longestElement + 1, `longest chunk ${Math.max(...lengths)}`);
  // Depth 1 keeps the routes' list whole: one chunk of it all.
  const whole: number[] = [];
  for await (const chunk of jsonArrayChunks([big], 1, 1024)) whole.push(chunk.length);
  assert.ok(Math.max(...whole) > JSON.stringify(big.routes).length);
});

test('jsonBody: an element is read only when the text before it is taken', async () => {
  let read = 0;
  async function* elements(): AsyncGenerator<{ i: number; text: string }> {
    for (let i = 0; i < 50; i++) {
      read += 1;
      yield { i, text: 'x'.repeat(100_000) };
    }
  }
  const body = await jsonBody(jsonArrayChunks(elements(), 1, 1024));
  // Made before the answer starts: only what the first chunk needs.
  assert.equal(read, 1);
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    // The stream reads ahead by one element at most, not by the whole list.
    assert.ok(read <= 2 + Math.ceil(Buffer.concat(chunks).length / 100_000), `${read} read`);
  }
  assert.equal(read, 50);
  const text = Buffer.concat(chunks).toString();
  const parsed = JSON.parse(text) as { i: number }[];
  assert.deepEqual(
    parsed.map((e) => e.i),
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test('jsonBody: an error before the first chunk is thrown, not sent as a broken body', async () => {
  // eslint-disable-next-line require-yield
  async function* failing(): AsyncGenerator<unknown> {
    throw new Error('namespace gone');
  }
  await assert.rejects(jsonBody(jsonArrayChunks(failing(), 2)), /namespace gone/);
});
