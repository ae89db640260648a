/**
 * The JSON text of a large answer in pieces, so the agent never holds it whole: the same characters
 * as JSON.stringify(value), made a part at a time. A W1 host's kernel dump is ~3.5 MB of text, and
 * GET /v1/kernel held it as one string, then as one buffer to send, next to every namespace's decoded
 * objects: the agent's RSS grew by ~40 MB for one `netnsctl dump`.
 */
import { Readable } from 'node:stream';

/** What JSON.stringify leaves out of an object, and writes as null in an array. */
function unstringifiable(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * JSON.stringify(value) as pieces: arrays and plain objects down to `depth` levels are opened (their
 * elements and fields come one by one), what lies deeper is stringified whole. No indentation, no
 * replacer; a nested toJSON is called with the key '' rather than its own (as Date's ignores it).
 */
export function* jsonPieces(value: unknown, depth: number): Generator<string> {
  if (depth <= 0 || !isPlainContainer(value)) {
    yield JSON.stringify(value) ?? 'null';
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      const element: unknown = value[i];
      if (unstringifiable(element)) yield 'null';
      else yield* jsonPieces(element, depth - 1);
    }
    yield ']';
    return;
  }
  yield '{';
  let first = true;
  for (const [key, field] of Object.entries(value)) {
    if (unstringifiable(field)) continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* jsonPieces(field, depth - 1);
  }
  yield '}';
}

/** Characters of JSON text per chunk sent. */
export const JSON_CHUNK_SIZE = 64 * 1024;

/**
 * The text of an array whose elements come one at a time (each may be read only when the one
 * before was turned into text): JSON.stringify([...elements]), in chunks of about `size` characters.
 * Each element is opened down to `depth` levels (jsonPieces).
 */
export async function* jsonArrayChunks(
  elements: AsyncIterable<unknown> | Iterable<unknown>,
  depth: number,
  size = JSON_CHUNK_SIZE,
): AsyncGenerator<string> {
  let parts = ['['];
  let length = 1;
  let first = true;
  for await (const element of elements) {
    if (!first) {
      parts.push(',');
      length += 1;
    }
    first = false;
    for (const piece of unstringifiable(element) ? ['null'] : jsonPieces(element, depth)) {
      parts.push(piece);
      length += piece.length;
      if (length >= size) {
        yield parts.join('');
        parts = [];
        length = 0;
      }
    }
  }
  parts.push(']');
  yield parts.join('');
}

/**
 * A response body of JSON text chunks. The first chunk is made before the body is handed over: an
 * error there (the first namespace could not be read) is still an error answer; a later one ends
 * the connection before the end of the text, which a client sees as a broken answer, never as a
 * shorter list.
 */
export async function jsonBody(chunks: AsyncGenerator<string>): Promise<Readable> {
  const first = await chunks.next();
  async function* rest(): AsyncGenerator<Buffer> {
    if (!first.done) yield Buffer.from(first.value);
    for await (const chunk of chunks) yield Buffer.from(chunk);
  }
  return Readable.from(rest(), { objectMode: false });
}
