/** A member given twice in one JSON object (src/util/json-duplicate-keys.ts), and who refuses it. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findDuplicateKey } from '../../src/util/json-duplicate-keys.js';
import { InvalidValueError, parseItemText } from '../../src/model/index.js';
import { readDocuments } from '../../src/cli/netnsctl/documents.js';

describe('findDuplicateKey', () => {
  test('finds the first name given twice in one object, with where that object is', () => {
    assert.deepEqual(findDuplicateKey('{"mtu": 1, "mtu": 2}'), { path: '', name: 'mtu' });
    assert.deepEqual(findDuplicateKey('{"veth": {"peer_if_name": "a", "peer_if_name": "b"}}'), {
      path: 'veth',
      name: 'peer_if_name',
    });
    assert.deepEqual(findDuplicateKey('[{"a": 1}, {"b": [0, {"c": 1, "c": 2}]}]'), {
      path: '[1].b[1]',
      name: 'c',
    });
    // Escapes are read as JSON reads them: "\u006dtu" is "mtu".
    assert.deepEqual(findDuplicateKey('{"mtu": 1, "\\u006dtu": 2}'), { path: '', name: 'mtu' });
  });

  test('the same name in different objects, in values, in strings, is no duplicate', () => {
    for (const text of [
      '{"a": {"x": 1}, "b": {"x": 1}}',
      '[{"x": 1}, {"x": 2}]',
      '{"a": "a", "b": "a"}',
      '{"a": "{\\"a\\": 1, \\"a\\": 2}", "b": "\\\\"}',
      '{"a": [], "b": {}, "c": [[], {}], "d": null}',
      '"just a string"',
      '42',
    ]) {
      JSON.parse(text); // the scan is only ever given JSON the parser accepted
      assert.equal(findDuplicateKey(text), undefined, text);
    }
  });

  test('agrees with a parse that keeps every member, on random objects', () => {
    const names = ['a', 'b', 'c', 'a\\"', 'ß'];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const make = (depth: number): { text: string; duplicate: boolean } => {
      if (depth === 0 || random(3) === 0) return { text: String(random(10)), duplicate: false };
      if (random(2) === 0) {
        const parts = Array.from({ length: random(4) }, () => make(depth - 1));
        return { text: `[${parts.map((p) => p.text).join(',')}]`, duplicate: parts.some((p) => p.duplicate) };
      }
      const members = Array.from({ length: random(4) }, () => ({
        name: names[random(names.length)]!,
        value: make(depth - 1),
      }));
      const seen = new Set(members.map((m) => m.name));
      return {
        text: `{${members.map((m) => `"${m.name}": ${m.value.text}`).join(', ')}}`,
        duplicate: seen.size < members.length || members.some((m) => m.value.duplicate),
      };
    };
    for (let i = 0; i < 2000; i++) {
      const { text, duplicate } = make(4);
      JSON.parse(text);
      assert.equal(findDuplicateKey(text) !== undefined, duplicate, text);
    }
  });
});

describe('a duplicate member is refused', () => {
  test('in a value: invalid, naming the field', () => {
    const key = '/vnf-agent/l1/linux/config/v1/interface/d0';
    assert.throws(
      () => parseItemText(key, '{"name": "d0", "type": "DUMMY", "mtu": 1400, "mtu": 9000}'),
      (error: unknown) => {
        assert.ok(error instanceof InvalidValueError);
        assert.equal(error.errors[0]?.field, 'mtu');
        assert.match(error.errors[0]?.message ?? '', /given twice/);
        return true;
      },
    );
    assert.throws(
      () => parseItemText(key, '{"name": "d0", "namespace": {"type": 2, "name": "a", "name": "b"}}'),
      (error: unknown) => error instanceof InvalidValueError && error.errors[0]?.field === 'namespace.name',
    );
  });

  test('in a JSON file for apply -f or plan -f: the file is refused, naming where', () => {
    assert.throws(
      () => readDocuments('[{"kind": "interface", "name": "d0", "value": {"mtu": 1, "mtu": 2}}]'),
      /"mtu" is given twice in one object \(\[0\]\.value of the file\)/,
    );
    assert.throws(
      () =>
        readDocuments('{"kind": "interface", "name": "d0"}\n---\n{"kind": "interface", "kind": "route"}\n'),
      /"kind" is given twice in one object \(the document at line 3\)/,
    );
    // YAML says so itself.
    assert.throws(() => readDocuments('kind: interface\nname: d0\nname: d1\n'), /unique/);
  });
});
