/**
 * POST /v1/config's body (src/api/config-batch.ts) and how `apply -f` and `del -f` cut a file into
 * such requests (src/cli/netnsctl/parts.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigBatchBodyError, MAX_BATCH_CHANGES, parseConfigBatch } from '../../../src/api/config-batch.js';
import { inParts } from '../../../src/cli/netnsctl/parts.js';

describe('POST /v1/config body', () => {
  test('values as JSON or as text; keys kept in order', () => {
    assert.deepEqual(
      parseConfigBatch(
        JSON.stringify({
          puts: [
            { key: '/a', value: { name: 'a', mtu: 1400 } },
            { key: '/b', value: '{"name": "b"}' },
          ],
        }),
      ),
      {
        puts: [
          { key: '/a', valueText: '{"name":"a","mtu":1400}' },
          { key: '/b', valueText: '{"name": "b"}' },
        ],
        deletes: [],
      },
    );
    assert.deepEqual(parseConfigBatch('{"puts": []}'), { puts: [], deletes: [] });
    assert.deepEqual(parseConfigBatch('{"deletes": ["/c", "/d"]}'), { puts: [], deletes: ['/c', '/d'] });
  });

  test('what is not a list of {key, value} is refused, saying why', () => {
    const refused: [string, RegExp][] = [
      ['not json', /not JSON/],
      ['[]', /must be an object/],
      ['{"puts": {}}', /puts must be a list/],
      ['{"deletes": "/a"}', /deletes must be a list of keys/],
      ['{"deletes": ["/a", 1]}', /deletes\[1\]: 1 is not a key/],
      ['{"puts": [], "delete": []}', /unknown field delete \(known: puts, deletes\)/],
      [
        '{"puts": [{"key": "/a", "value": 1}], "deletes": ["/a"]}',
        /\/a is given twice: puts\[0\] and deletes\[0\]/,
      ],
      ['{"deletes": ["/a", "/a"]}', /\/a is given twice: deletes\[0\] and deletes\[1\]/],
      ['{"puts": [{"value": {}}]}', /puts\[0\]: every put needs a key/],
      ['{"puts": [null]}', /puts\[0\]: every put needs a key/],
      ['{"puts": [{"key": "/a"}]}', /puts\[0\] \(\/a\): no value/],
      [
        '{"puts": [{"key": "/a", "value": 1}, {"key": "/a", "value": 2}]}',
        /\/a is given twice: puts\[0\] and puts\[1\]/,
      ],
      ['{"puts": [{"key": "/a", "key": "/b", "value": 1}]}', /"key" is given twice/],
    ];
    for (const [text, why] of refused)
      assert.throws(
        () => parseConfigBatch(text),
        (e: unknown) => e instanceof ConfigBatchBodyError && why.test(e.message),
        text,
      );
    const tooMany = JSON.stringify({
      puts: Array.from({ length: MAX_BATCH_CHANGES + 1 }, (_, i) => ({ key: `/k${i}`, value: 1 })),
    });
    assert.throws(() => parseConfigBatch(tooMany), /at most 20000 values and keys/);
  });
});

describe('apply -f in parts', () => {
  const byText = (item: { valueText: string }): number => item.valueText.length;
  const items = (n: number, size = 10): { valueText: string }[] =>
    Array.from({ length: n }, () => ({ valueText: 'x'.repeat(size) }));

  test('500 items a part; a file of 1200 in three', () => {
    assert.deepEqual(
      inParts(items(1200), byText).map((p) => p.length),
      [500, 500, 200],
    );
    assert.deepEqual(inParts(items(0), byText), []);
    assert.deepEqual(
      inParts(items(500), byText).map((p) => p.length),
      [500],
    );
  });

  test('large values: at most 1 MiB a part, a larger value alone', () => {
    assert.deepEqual(
      inParts(items(5, 400 * 1024), byText).map((p) => p.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      inParts([...items(1, 3 * 1024 * 1024), ...items(2)], byText).map((p) => p.length),
      [1, 2],
    );
  });
});
