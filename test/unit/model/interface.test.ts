import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  interfaceKey,
  InvalidValueError,
  parseItem,
  parseItemText,
  serializeItem,
  type LinuxInterface,
} from '../../../src/model/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const examples = path.resolve(repoRoot, 'test/data/examples');

function parseInterface(name: string, json: unknown): LinuxInterface {
  const item = parseItem(interfaceKey('vpp1', name), json);
  assert.equal(item.kind, 'interface');
  return item.value;
}

describe("users' example files parse unchanged", () => {
  test('veth1.json (the seeds)', () => {
    const item = parseItemText(
      interfaceKey('my-agent', 'veth1'),
      readFileSync(path.join(examples, 'veth1.json')),
    );
    assert.deepEqual(item.value, {
      name: 'veth1',
      description: '',
      type: 'VETH',
      enabled: true,
      ipAddresses: ['192.168.22.1/24', '2001:db8::ff00:89e3:bb42/48'],
      physAddress: 'd2:74:8c:12:67:d2',
      mtu: 1500,
      hostIfName: 'veth1Name',
      namespace: { kind: 'named', name: 'ns1' },
      veth: { peerIfName: 'veth2' },
    });
  });
  test('veth2.json', () => {
    const item = parseItemText(
      interfaceKey('my-agent', 'veth2'),
      readFileSync(path.join(examples, 'veth2.json'), 'utf8'),
    );
    assert.equal(item.kind, 'interface');
    assert.equal(item.value.type === 'VETH' && item.value.veth.peerIfName, 'veth1');
  });
  test('linux-tap.json', () => {
    const item = parseItemText(
      interfaceKey('vpp1', 'tap1'),
      readFileSync(path.join(examples, 'linux-tap.json'), 'utf8'),
    );
    assert.equal(item.kind, 'interface');
    assert.equal(item.value.type, 'AUTO_TAP');
    assert.equal(item.value.type === 'AUTO_TAP' && item.value.tap.tempIfName, 'tap1');
    assert.equal(item.value.hostIfName, 'linux-tap');
  });
});

describe('proto3 JSON forms', () => {
  test('lowerCamelCase, enum names, numbers as strings give the same value as snake_case', () => {
    const snake = parseInterface('v1', {
      type: 0,
      enabled: true,
      mtu: 1400,
      host_if_name: 'h1',
      ip_addresses: ['10.0.0.1/30'],
      phys_address: 'D2-74-8C-12-67-D2',
      namespace: { type: 2, name: 'ns1' },
      veth: { peer_if_name: 'v2' },
    });
    const camel = parseInterface('v1', {
      name: 'v1',
      type: 'VETH',
      enabled: true,
      mtu: '1400',
      hostIfName: 'h1',
      ipAddresses: ['10.0.0.1/30'],
      physAddress: 'd2:74:8c:12:67:d2',
      namespace: { type: 'NAMED_NS', name: 'ns1' },
      veth: { peerIfName: 'v2' },
    });
    assert.deepEqual(snake, camel);
  });

  test('defaults: name from the key, host_if_name = name, enabled false, no mtu, own namespace', () => {
    const value = parseInterface('dummy0', { type: 'DUMMY' });
    assert.deepEqual(value, {
      name: 'dummy0',
      description: '',
      type: 'DUMMY',
      enabled: false,
      ipAddresses: [],
      hostIfName: 'dummy0',
      namespace: { kind: 'default' },
    });
  });

  test('null fields mean unset', () => {
    const value = parseInterface('d', {
      type: 'DUMMY',
      mtu: null,
      namespace: null,
      ip_addresses: null,
      veth: null,
    });
    assert.equal(value.mtu, undefined);
  });

  test('our types by name and number', () => {
    assert.equal(parseInterface('l', { type: 100 }).type, 'LOOPBACK');
    assert.equal(parseInterface('l', { type: 'LOOPBACK' }).hostIfName, 'lo');
    assert.equal(parseInterface('d', { type: 101 }).type, 'DUMMY');
    assert.equal(parseInterface('e', { type: 102, host_if_name: 'eth0' }).type, 'EXISTING');
  });

  test("a LOOPBACK's lo is up: enabled left out means up, false is refused", () => {
    assert.equal(parseInterface('l', { type: 'LOOPBACK' }).enabled, true);
    assert.equal(parseInterface('l', { type: 'LOOPBACK', enabled: true }).enabled, true);
    assert.throws(
      () => parseInterface('l', { type: 'LOOPBACK', enabled: false }),
      /enabled: a LOOPBACK's lo is kept up/,
    );
    assert.equal(parseInterface('d', { type: 'DUMMY' }).enabled, false, 'other types: proto3 false');
  });

  test('lo: the name of LOOPBACK and maybe of an EXISTING item, never of a link the agent makes or renames', () => {
    assert.equal(parseInterface('e', { type: 'EXISTING', host_if_name: 'lo' }).hostIfName, 'lo');
    for (const type of ['VETH', 'DUMMY', 'AUTO_TAP'])
      assert.throws(
        () =>
          parseInterface('lo', {
            type,
            veth: type === 'VETH' ? { peer_if_name: 'p' } : undefined,
            tap: type === 'AUTO_TAP' ? { temp_if_name: 't' } : undefined,
          }),
        /host_if_name: absent, so the name "lo" is used, which is the namespace's loopback interface/,
      );
    // Nor the TAP an AUTO_TAP takes (renamed, moved, set down).
    assert.throws(
      () => parseInterface('t', { type: 'AUTO_TAP', host_if_name: 'tap9', tap: { temp_if_name: 'lo' } }),
      /tap\.temp_if_name: lo is the namespace's loopback, not a TAP/,
    );
  });

  test('::1 only on a LOOPBACK (the kernel refuses it elsewhere); other IPv6 addresses anywhere', () => {
    assert.deepEqual(parseInterface('l', { type: 'LOOPBACK', ip_addresses: ['::1/128'] }).ipAddresses, [
      '::1/128',
    ]);
    assert.deepEqual(
      parseInterface('e', { type: 'EXISTING', host_if_name: 'lo', ip_addresses: ['::1/128'] }).ipAddresses,
      ['::1/128'],
    );
    for (const type of ['VETH', 'DUMMY', 'AUTO_TAP'])
      assert.throws(
        () =>
          parseInterface('d', {
            type,
            ip_addresses: ['::1/128'],
            veth: type === 'VETH' ? { peer_if_name: 'p' } : undefined,
            tap: type === 'AUTO_TAP' ? { temp_if_name: 't' } : undefined,
          }),
        /ip_addresses\[0\]: ::1 is the IPv6 loopback address: only a LOOPBACK \(or an EXISTING loopback device\) can have it/,
      );
    assert.deepEqual(
      parseInterface('d', { type: 'DUMMY', ip_addresses: ['::2/128', '::1:0/112'] }).ipAddresses,
      ['::2/128', '::1:0/112'],
    );
  });

  test('mtu 0 keeps the default; 68 and 65535 are the limits', () => {
    assert.equal(parseInterface('d', { type: 'DUMMY', mtu: 0 }).mtu, undefined);
    assert.equal(parseInterface('d', { type: 'DUMMY', mtu: 68 }).mtu, 68);
    assert.equal(parseInterface('d', { type: 'DUMMY', mtu: 65535 }).mtu, 65535);
  });

  test('all problems are reported at once', () => {
    try {
      parseInterface('v1', { type: 'VETH', mtu: 5, host_if_name: 'a:b', phys_address: '01:00:00:00:00:00' });
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof InvalidValueError);
      assert.deepEqual(error.errors.map((e) => e.field).sort(), [
        'host_if_name',
        'mtu',
        'phys_address',
        'veth.peer_if_name',
      ]);
    }
  });
});

describe('canonical serialization', () => {
  test('veth1 in canonical form', () => {
    const key = interfaceKey('my-agent', 'veth1');
    const item = parseItemText(key, readFileSync(path.join(examples, 'veth1.json'), 'utf8'));
    assert.equal(
      serializeItem(item),
      '{"name":"veth1","type":"VETH","enabled":true,' +
        '"ip_addresses":["192.168.22.1/24","2001:db8::ff00:89e3:bb42/48"],' +
        '"phys_address":"d2:74:8c:12:67:d2","mtu":1500,"host_if_name":"veth1Name",' +
        '"namespace":{"type":"NAMED_NS","name":"ns1"},"veth":{"peer_if_name":"veth2"}}',
    );
    assert.deepEqual(parseItemText(key, serializeItem(item, 2)), item);
  });
});
