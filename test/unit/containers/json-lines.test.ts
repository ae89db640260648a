import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonLineSplitter } from '../../../src/containers/json-lines.js';

describe('JsonLineSplitter', () => {
  test('any chunking of a stream yields the same documents', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ Action: fc.string(), id: fc.string(), n: fc.integer() }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (documents, cuts) => {
          const bytes = Buffer.from(documents.map((d) => JSON.stringify(d) + '\n').join(''));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const splitter = new JsonLineSplitter();
          const seen: unknown[] = [];
          let start = 0;
          for (const point of [...points, bytes.length]) {
            const result = splitter.push(bytes.subarray(start, point));
            assert.deepEqual(result.invalidLines, []);
            seen.push(...result.documents);
            start = point;
          }
          assert.deepEqual(seen, JSON.parse(JSON.stringify(documents)));
        },
      ),
    );
  });

  test('multi-byte characters split across chunks survive', () => {
    const bytes = Buffer.from('{"name":"é✓"}\n');
    const splitter = new JsonLineSplitter();
    const first = splitter.push(bytes.subarray(0, 11));
    const second = splitter.push(bytes.subarray(11));
    assert.deepEqual([...first.documents, ...second.documents], [{ name: 'é✓' }]);
  });

  test('reports lines that are not JSON and keeps going', () => {
    const result = new JsonLineSplitter().push('{"a":1}\nnot json\n\n{"b":2}\n{"c"');
    assert.deepEqual(result.documents, [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(result.invalidLines, ['not json']);
  });
});
