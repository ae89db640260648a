import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeNamespace,
  interfaceKey,
  namespaceId,
  parseItem,
  parseNamespaceId,
  type NamespaceRef,
} from '../../../src/model/index.js';

const key = interfaceKey('a', 'd1');
function namespaceOf(namespace: unknown): NamespaceRef {
  const item = parseItem(key, { type: 'DUMMY', namespace });
  assert.equal(item.kind, 'interface');
  return item.value.namespace;
}

describe('namespace references', () => {
  const table: [unknown, NamespaceRef][] = [
    [undefined, { kind: 'default' }],
    [null, { kind: 'default' }],
    [{}, { kind: 'default' }],
    [{ type: 0, pid: 0 }, { kind: 'default' }],
    [{ type: 'PID_REF_NS', pid: '0', name: '', microservice: null }, { kind: 'default' }],
    // The seeds' "default namespace (namespace.Name="")", as vpp-agent read it.
    [{ type: 2 }, { kind: 'default' }],
    [{ type: 'NAMED_NS', name: '' }, { kind: 'default' }],
    [{ type: 'FILE_REF_NS', filepath: '' }, { kind: 'default' }],
    [
      { type: 0, pid: 123 },
      { kind: 'pid', pid: 123 },
    ],
    [{ pid: '4194304' }, { kind: 'pid', pid: 4194304 }],
    [
      { type: 1, microservice: 'ms-a' },
      { kind: 'microservice', label: 'ms-a' },
    ],
    [
      { type: 'NAMED_NS', name: 'ns1' },
      { kind: 'named', name: 'ns1' },
    ],
    [
      { type: 2, name: 'ns1', pid: 0, filepath: '' },
      { kind: 'named', name: 'ns1' },
    ],
    [
      { type: 3, filepath: '/proc/42/ns/net' },
      { kind: 'file', path: '/proc/42/ns/net' },
    ],
    [
      { type: 'FILE_REF_NS', filepath: '//var/run/netns/./x/' },
      { kind: 'file', path: '/var/run/netns/x' },
    ],
  ];
  for (const [raw, expected] of table) {
    test(`${JSON.stringify(raw)} -> ${namespaceId(expected)}`, () => {
      assert.deepEqual(namespaceOf(raw), expected);
    });
  }
});

describe('namespace ids and descriptions', () => {
  const table: [NamespaceRef, string, string][] = [
    [{ kind: 'default' }, 'default', "the agent's own namespace"],
    [{ kind: 'named', name: 'ns1' }, 'named/ns1', 'named namespace ns1'],
    [{ kind: 'pid', pid: 123 }, 'pid/123', 'namespace of pid 123'],
    [{ kind: 'microservice', label: 'ms-a' }, 'microservice/ms-a', 'namespace of microservice ms-a'],
    [{ kind: 'file', path: '/proc/1/ns/net' }, 'file//proc/1/ns/net', 'namespace file /proc/1/ns/net'],
  ];
  for (const [ref, id, description] of table) {
    test(id, () => {
      assert.equal(namespaceId(ref), id);
      assert.deepEqual(parseNamespaceId(id), ref);
      assert.equal(describeNamespace(ref), description);
    });
  }
  for (const bad of [
    '',
    'named/',
    'named/a/b',
    'pid/0',
    'pid/x',
    'pid/01',
    'file/rel',
    'file//a/../b',
    'other/x',
  ]) {
    test(`${JSON.stringify(bad)} is not an id`, () => assert.equal(parseNamespaceId(bad), undefined));
  }
});

test('a file of the named namespaces directory has the named namespace id (one namespace, one id)', () => {
  assert.equal(namespaceId({ kind: 'file', path: '/var/run/netns/ns1' }), 'named/ns1');
  assert.equal(namespaceId({ kind: 'file', path: '/run/netns/ns1' }), 'named/ns1');
  assert.equal(namespaceId({ kind: 'file', path: '/proc/1/ns/net' }), 'file//proc/1/ns/net');
});
