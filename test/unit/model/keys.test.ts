import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpKey,
  configKey,
  configPrefix,
  interfaceKey,
  interfaceStatusKey,
  InvalidKeyError,
  parseConfigKey,
  parseStatusKey,
  requireConfigKey,
  routeKey,
} from '../../../src/model/index.js';

describe('key builders', () => {
  const table: [string, string, string][] = [
    [interfaceKey('vpp1', 'veth1'), '/vnf-agent/vpp1/linux/config/v1/interface/veth1', 'interface'],
    [arpKey('vpp1', 'arp1'), '/vnf-agent/vpp1/linux/config/v1/arp/arp1', 'arp'],
    [routeKey('my-agent', 'defRoute'), '/vnf-agent/my-agent/linux/config/v1/route/defRoute', 'route'],
    [configKey('a', 'route', 'r.1'), '/vnf-agent/a/linux/config/v1/route/r.1', 'route'],
  ];
  for (const [built, expected, kind] of table) {
    test(`${expected} builds and parses back`, () => {
      assert.equal(built, expected);
      const parsed = parseConfigKey(built);
      assert.equal(parsed?.kind, kind);
      assert.equal(configKey(parsed.label, parsed.kind, parsed.name), built);
    });
  }

  test('prefixes', () => {
    assert.equal(configPrefix('vpp1'), '/vnf-agent/vpp1/linux/config/v1/');
    assert.equal(configPrefix('vpp1', 'arp'), '/vnf-agent/vpp1/linux/config/v1/arp/');
    // Remembered per label: the same answers again, and a bad label refused every time.
    assert.equal(configPrefix('vpp1', 'route'), '/vnf-agent/vpp1/linux/config/v1/route/');
    assert.equal(configPrefix('vpp1', 'interface'), '/vnf-agent/vpp1/linux/config/v1/interface/');
    for (let i = 0; i < 2; i++) assert.throws(() => configPrefix('a/b'), /label "a\/b"/);
    for (let i = 0; i < 100; i++)
      assert.equal(configPrefix(`l${i}`, 'arp'), `/vnf-agent/l${i}/linux/config/v1/arp/`);
    assert.equal(configPrefix('vpp1'), '/vnf-agent/vpp1/linux/config/v1/');
  });

  test('status key', () => {
    const key = interfaceStatusKey('vpp1', 'veth1');
    assert.equal(key, '/vnf-agent/vpp1/linux/status/v1/interface/veth1');
    assert.deepEqual(parseStatusKey(key), { label: 'vpp1', kind: 'interface', name: 'veth1' });
    assert.equal(parseStatusKey(interfaceKey('vpp1', 'veth1')), undefined);
    assert.equal(parseConfigKey(key), undefined);
  });

  const badSegments: [string, string][] = [
    ['a/b', 'veth1'],
    ['vpp1', 'a/b'],
    ['', 'veth1'],
    ['vpp1', ''],
    ['vpp1', '..'],
    ['vpp1', 'has space'],
    ['vpp1', 'x'.repeat(256)],
  ];
  for (const [label, name] of badSegments) {
    test(`refuses label ${JSON.stringify(label)} name ${JSON.stringify(name.slice(0, 20))}`, () => {
      assert.throws(() => interfaceKey(label, name), InvalidKeyError);
    });
  }
});

describe('key parsers', () => {
  const notKeys = [
    '',
    '/vnf-agent/vpp1/linux/config/v1/interface/',
    '/vnf-agent/vpp1/linux/config/v1/interface/a/b',
    '/vnf-agent/vpp1/linux/config/v1/bridge/br0',
    '/vnf-agent/vpp1/linux/config/v2/interface/veth1',
    '/vnf-agent//linux/config/v1/interface/veth1',
    'vnf-agent/vpp1/linux/config/v1/interface/veth1',
    '/vnf-agent/vpp1/vpp/config/v1/interface/veth1',
    '/vnf-agent/vpp1/linux/config/v1/interface/veth1/',
  ];
  for (const key of notKeys) {
    test(`${JSON.stringify(key)} is not a config key`, () => {
      assert.equal(parseConfigKey(key), undefined);
      assert.throws(
        () => requireConfigKey(key),
        (e: unknown) => e instanceof InvalidKeyError && e.key === key,
      );
    });
  }

  test('requireConfigKey says what is wrong', () => {
    assert.throws(() => requireConfigKey('/vnf-agent/a/linux/config/v1/bridge/x'), /unknown kind "bridge"/);
  });
});
