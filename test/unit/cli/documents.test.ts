/** netnsctl's files of items (src/cli/netnsctl/documents.ts): documents to keyed items, problems by position. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readDocuments, toItems } from '../../../src/cli/netnsctl/documents.js';

describe('netnsctl documents', () => {
  test('YAML documents, with the value nested or inline, become keyed items', () => {
    const documents = readDocuments(
      [
        'kind: interface',
        'name: d0',
        'value: {type: DUMMY, namespace: {type: NAMED_NS, name: ns1}}',
        '---',
        'kind: interface',
        'name: d1',
        'type: DUMMY',
        'namespace: {type: NAMED_NS, name: ns1}',
      ].join('\n'),
    );
    const { items, problems } = toItems(documents, 'l1');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      items.map((i) => i.key),
      ['/vnf-agent/l1/linux/config/v1/interface/d0', '/vnf-agent/l1/linux/config/v1/interface/d1'],
    );
  });

  test('{key, value} documents, as `netnsctl get` prints them, go back in; a key of another label is refused', () => {
    const value = { name: 'd0', type: 'DUMMY', namespace: { type: 'NAMED_NS', name: 'ns1' } };
    const { items, problems } = toItems(
      [
        { key: '/vnf-agent/l1/linux/config/v1/interface/d0', value, revision: 7 },
        { key: 'interface/d1', value: { ...value, name: 'd1' } },
        { key: '/vnf-agent/l2/linux/config/v1/interface/d0', value },
        { key: '/vnf-agent/l1/linux/status/v1/interface/d0', value },
      ],
      'l1',
    );
    assert.deepEqual(
      items.map((i) => [i.key, JSON.parse(i.valueText) as unknown]),
      [
        ['/vnf-agent/l1/linux/config/v1/interface/d0', value],
        ['/vnf-agent/l1/linux/config/v1/interface/d1', { ...value, name: 'd1' }],
      ],
    );
    assert.deepEqual(
      problems.map((p) => p.index),
      [2, 3],
    );
    assert.match(String(problems[0]?.errors), /of the agent labelled l2, not l1/);
    assert.equal(problems[0]?.key, '/vnf-agent/l2/linux/config/v1/interface/d0', 'the problem names its key');
    assert.match(String(problems[1]?.errors), /^key "\/vnf-agent\/l1\/linux\/status/);
  });

  test('JSON objects separated by --- are a YAML stream; broken JSON says where; the same item twice is refused', () => {
    const doc = (name: string): string => JSON.stringify({ kind: 'interface', name, type: 'DUMMY' });
    assert.equal(readDocuments([doc('d0'), '---', doc('d1')].join('\n')).length, 2);
    assert.throws(
      () => readDocuments('{\n  "kind": "interface",\n  "name": "d0" "type": 1\n}'),
      /^Error: JSON: .*\(line 3, column \d+\)/,
    );
    // YAML flow documents (and comments, `...`) in a `---` stream are still YAML's to read.
    const flow = (name: string): string => `{kind: interface, name: ${name}, type: DUMMY}`;
    assert.equal(
      readDocuments([flow('d0'), '---', flow('d1'), '--- # three', flow('d2')].join('\n')).length,
      3,
    );
    // Broken JSON in the third document of a `---` stream: its own line, not the separator's.
    assert.throws(
      () => readDocuments([doc('d0'), '---', '{"kind": "interface",, "name": "d1"}'].join('\n')),
      /^Error: JSON: .*\(line 3, column 22\)/,
    );
    const { items, problems } = toItems(readDocuments([doc('d0'), '---', doc('d0')].join('\n')), 'l1');
    assert.equal(items.length, 1);
    assert.deepEqual(
      problems.map((p) => [p.index, p.errors]),
      [[1, 'the same item as document 1 (one file holds one value per key): left out']],
    );
    // The first copy invalid: the second is still the same item twice, not the one that goes in.
    const bad = JSON.stringify({ kind: 'interface', name: 'd0', type: 'DUMMY', mtu: 1 });
    const twice = toItems(readDocuments([bad, '---', doc('d0')].join('\n')), 'l1');
    assert.deepEqual(twice.items, []);
    assert.deepEqual(
      twice.problems.map((p) => p.index),
      [0, 1],
    );
  });

  test('a big file of JSON documents separated by --- is read in linear time; a duplicate names its line', () => {
    // W1 as `apply -f` reads it: 4000 pretty-printed documents, ~1 MB. Each document's line was
    // counted from the file's start (a slice and split of all before it): 7 s, quadratic. Measured
    // as work, not time (a time ratio swung from 4 to 112 on a busy machine): the characters of
    // every string split while the file is read, against the file's own length.
    const documents: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const value = { name: `d${i}`, type: 'DUMMY', mtu: 1400, ip_addresses: [`10.0.${i % 250}.1/24`] };
      documents.push(JSON.stringify({ kind: 'interface', name: `d${i}`, value }, null, 1));
    }
    const text = documents.join('\n---\n');
    const split = String.prototype.split;
    let charactersSplit = 0;
    String.prototype.split = function (this: string, ...args: Parameters<typeof split>) {
      charactersSplit += this.length;
      return split.apply(this, args);
    } as typeof split;
    try {
      assert.equal(readDocuments(text, { json: true }).length, 4000);
    } finally {
      String.prototype.split = split;
    }
    assert.ok(
      charactersSplit <= 2 * text.length,
      `${charactersSplit} characters split, for a file of ${text.length}`,
    );
    const lines = text.split('\n').length;
    assert.throws(
      () => readDocuments(`${text}\n---\n{"kind": "interface", "name": "x", "name": "y"}`, { json: true }),
      new RegExp(`"name" is given twice in one object \\(the document at line ${lines + 2}\\)`),
    );
  });

  test('a file named *.json is read as JSON only: what only YAML takes is an error with its line and column', () => {
    const trailingComma = '{\n  "kind": "interface",\n  "name": "d0",\n  "type": "DUMMY",\n}\n';
    // As YAML (a flow mapping may end with a comma) it is read...
    assert.equal(readDocuments(trailingComma).length, 1);
    // ...but not in a JSON file.
    assert.throws(() => readDocuments(trailingComma, { json: true }), /^Error: JSON: .*line 5/);
    assert.throws(() => readDocuments('kind: interface\nname: d0\n', { json: true }), /read as JSON only/);
    assert.equal(readDocuments('{"kind": "interface", "name": "d0"}', { json: true }).length, 1);
    assert.equal(
      readDocuments('{"kind": "interface", "name": "d0"}\n---\n{"kind": "route", "name": "r"}', {
        json: true,
      }).length,
      2,
    );
  });

  test('a bare value (no kind) is told how to go in; an unknown kind is named', () => {
    const { items, problems } = toItems(
      [{ name: 'veth1', type: 'VETH' }, { kind: 'bridge', name: 'b' }, 'text'],
      'l1',
    );
    assert.deepEqual(items, []);
    assert.match(String(problems[0]?.errors), /no kind: .*netnsctl put KEY FILE/);
    assert.match(String(problems[1]?.errors), /kind must be interface, route or arp, not "bridge"/);
    assert.match(String(problems[2]?.errors), /must be an object/);
    assert.deepEqual(
      problems.map((p) => p.index),
      [0, 1, 2],
    );
  });

  test('a name that is not text (YAML reads `name: 12345` as a number) is named as such, not as missing', () => {
    const documents = readDocuments(
      [
        'kind: interface',
        'name: 12345',
        'type: DUMMY',
        '---',
        'kind: route',
        'name: true',
        'value: {interface: eth0, dst_ip_addr: 10.0.0.0/8}',
        '---',
        'kind: arp',
        'value: {name: 7, interface: eth0, ip_addr: 10.0.0.1, hw_address: "02:00:00:00:00:01"}',
        '---',
        'kind: interface',
        'type: DUMMY',
        '---',
        'kind: interface',
        'name:',
        'type: DUMMY',
        '---',
        'kind: interface',
        'name: [a]',
      ].join('\n'),
    );
    const { items, problems } = toItems(documents, 'l1');
    assert.deepEqual(items, []);
    assert.deepEqual(
      problems.map((p) => [p.index, p.errors]),
      [
        [
          0,
          'name: 12345 is not text (a number); in YAML, quote a name that reads as a number or a boolean: "12345"',
        ],
        [
          1,
          'name: true is not text (a boolean); in YAML, quote a name that reads as a number or a boolean: "true"',
        ],
        [
          2,
          'value.name: 7 is not text (a number); in YAML, quote a name that reads as a number or a boolean: "7"',
        ],
        [3, 'a document needs a name'],
        [4, 'a document needs a name'],
        [5, 'name: ["a"] is not text (a list)'],
      ],
    );
  });

  test('a field beside `value` is refused, naming it, not dropped', () => {
    const key = '/vnf-agent/l1/linux/config/v1/interface/d0';
    const { items, problems } = toItems(
      [
        {
          kind: 'interface',
          name: 'd0',
          value: { type: 'DUMMY', namespace: { type: 'NAMED_NS', name: 'ns1' } },
          mtu: 9000,
          extra: 1,
        },
      ],
      'l1',
    );
    assert.deepEqual(items, []);
    assert.deepEqual(problems, [
      {
        index: 0,
        key,
        errors: ['mtu', 'extra'].map((field) => ({
          key,
          field,
          message: 'not a field of the document {kind, name, value}: it belongs inside value',
        })),
      },
    ]);
  });
});
