/** netnsctl's `-o table` forms of nested values (src/cli/netnsctl/output.ts and tables.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fieldRows,
  fieldTable,
  keyedFieldTable,
  printable,
  table,
} from '../../../src/cli/netnsctl/output.js';
import { dumpTable, historyTable, planTable, statusWhy } from '../../../src/cli/netnsctl/tables.js';

const veth = {
  name: 'veth1',
  enabled: true,
  ip_addresses: ['192.168.22.1/24', '2001:db8::1/48'],
  namespace: { type: 'NAMED_NS', name: 'ns1' },
  veth: { peer_if_name: 'veth2' },
  empty: [],
  none: {},
};

describe('netnsctl tables', () => {
  test('fieldRows: nested fields by path, lists by index, empty ones shown', () => {
    assert.deepEqual(fieldRows(veth), [
      { field: 'name', value: 'veth1' },
      { field: 'enabled', value: 'true' },
      { field: 'ip_addresses[0]', value: '192.168.22.1/24' },
      { field: 'ip_addresses[1]', value: '2001:db8::1/48' },
      { field: 'namespace.type', value: 'NAMED_NS' },
      { field: 'namespace.name', value: 'ns1' },
      { field: 'veth.peer_if_name', value: 'veth2' },
      { field: 'empty', value: '[]' },
      { field: 'none', value: '{}' },
    ]);
  });

  test('fieldTable and keyedFieldTable: aligned columns, the key on its first row only', () => {
    const one = fieldTable({ name: 'a', mtu: 1500 }).split('\n');
    assert.deepEqual(one, ['FIELD  VALUE', 'name   a', 'mtu    1500']);
    const many = keyedFieldTable([
      { key: 'k1', value: { name: 'a', mtu: 1 } },
      { key: 'k2', value: { name: 'b' } },
    ]).split('\n');
    assert.deepEqual(many, ['KEY  FIELD  VALUE', 'k1   name   a', '     mtu    1', 'k2   name   b']);
  });

  test('planTable: the file’s invalid items, then one row per item, and what was assumed', () => {
    const text = planTable(
      { summary: { entries: [{ key: 'k/a', change: 'create', why: 'new' }] }, assumed: 'ns1 exists' },
      [
        { index: 1, key: 'k/b', errors: [{ key: 'k/b', field: 'mtu', message: 'too small' }] },
        { index: 2, errors: 'not YAML' },
      ],
    );
    assert.deepEqual(text.split('\n'), [
      'KEY         CHANGE   WHY',
      'k/b         invalid  mtu: too small',
      'document 3  invalid  not YAML',
      'k/a         create   new',
      '(ns1 exists)',
    ]);
  });

  test('historyTable: one row per transaction with its counts', () => {
    const text = historyTable([
      {
        seq: 7,
        causes: ['commit', 'retry'],
        startedAt: Date.UTC(2026, 11, 1),
        durationMs: 12.4,
        counts: { create: 2, update: 1, delete: 0, failed: 1, pending: 3, invalid: 0 },
        errors: [{}],
      },
    ]);
    const [header, row] = text.split('\n');
    assert.match(
      header!,
      /^SEQ\s+STARTED\s+MS\s+CAUSES\s+CREATE\s+UPDATE\s+DELETE\s+FAILED\s+PENDING\s+INVALID\s+ERRORS$/,
    );
    assert.match(row!, /^7\s+2026-12-01T00:00:00.000Z\s+12\s+commit,retry\s+2\s+1\s+0\s+1\s+3\s+0\s+1$/);
  });

  test('dumpTable: links, addresses, routes and neighbours, devices by name, ours marked', () => {
    const rows = dumpTable([
      {
        namespace: 'named/ns1',
        links: [
          { index: 1, name: 'lo', up: true, configured: 'lo1' },
          { index: 2, name: 'v0', up: true, mtu: 1400, mac: '02:00:00:00:00:01', managed: 'v0' },
        ],
        addresses: [{ index: 2, address: '10.0.0.1', prefixLength: 24 }],
        routes: [
          {
            dst: '10.1.0.0',
            dstLength: 16,
            gateway: '10.0.0.9',
            oif: 2,
            table: 254,
            metric: 100,
            managed: true,
          },
          { dstLength: 0, oif: 3, table: 255 },
          { dst: '10.2.0.0', dstLength: 16, oif: 2, table: 254, scope: 253, source: '10.0.0.1' },
        ],
        neighbours: [{ index: 2, address: '10.0.0.9', mac: '02:00:00:00:00:09', state: 0x80, managed: true }],
      },
    ])
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows, [
      ['NAMESPACE', 'KIND', 'WHAT', 'MANAGED'],
      ['named/ns1', 'link', 'lo #1 up', 'lo1 (configured)'],
      ['named/ns1', 'link', 'v0 #2 up mtu 1400 02:00:00:00:00:01', 'v0'],
      ['named/ns1', 'address', '10.0.0.1/24 dev v0'],
      ['named/ns1', 'route', '10.1.0.0/16 via 10.0.0.9 dev v0 metric 100', 'yes'],
      ['named/ns1', 'route', 'default dev #3 table 255'],
      ['named/ns1', 'route', '10.2.0.0/16 dev v0 scope link src 10.0.0.1'],
      ['named/ns1', 'neighbour', '10.0.0.9 lladdr 02:00:00:00:00:09 dev v0 PERMANENT', 'yes'],
    ]);
  });
});

describe('printable', () => {
  test('control characters from the kernel or a user are shown, not obeyed by the terminal', () => {
    assert.equal(printable('a\x1b[2J\x1b[31mOWNED\tb'), 'a\\x1b[2J\\x1b[31mOWNED\\x09b');
    assert.equal(printable('plain ünïcode'), 'plain ünïcode');
  });
});

describe('statusWhy', () => {
  test("an invalid item's field errors come first, then what became of the value in effect", () => {
    const status = {
      state: 'invalid',
      error: 'already configured by /vnf-agent/a/linux/config/v1/arp/x',
      fieldErrors: [{ field: 'ip_addr', message: '192.168.22.2 is already claimed' }],
    };
    assert.equal(
      statusWhy(status),
      'ip_addr: 192.168.22.2 is already claimed (the value in effect: already configured by /vnf-agent/a/linux/config/v1/arp/x)',
    );
    assert.equal(
      statusWhy({ state: 'invalid', fieldErrors: [{ field: 'mtu', message: 'too small' }] }),
      'mtu: too small',
    );
    assert.equal(statusWhy({ state: 'pending', reason: 'waiting for x' }), 'waiting for x');
    assert.equal(statusWhy({ state: 'configured' }), '');
  });
});

describe('table', () => {
  test('a table of 300,000 rows (dump -o table of ~15,000 VETH pairs, ~20 rows each) is made, its columns as wide as the widest cell', () => {
    // The widths were Math.max(...rows): past ~150,000 rows, "Maximum call stack size exceeded".
    const rows = Array.from({ length: 300_000 }, (_, i) => ({ key: `k${i}`, state: 'configured' }));
    const lines = table(rows, ['key', 'state']).split('\n');
    assert.equal(lines.length, 300_001);
    assert.equal(lines[0], `KEY${' '.repeat('k299999'.length - 3)}  STATE`);
    assert.equal(lines[1], `k0${' '.repeat('k299999'.length - 2)}  configured`);
  });
});
