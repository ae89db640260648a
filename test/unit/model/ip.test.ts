import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasHostBits, networkOf, parseIp, parsePrefix } from '../../../src/model/index.js';

describe('parseIp', () => {
  const good: [string, string, 4 | 6][] = [
    ['192.168.22.1', '192.168.22.1', 4],
    ['0.0.0.0', '0.0.0.0', 4],
    ['2001:db8:0:0:0:ff00:89e3:bb42', '2001:db8::ff00:89e3:bb42', 6],
    ['2001:DB8::1', '2001:db8::1', 6],
    ['::', '::', 6],
    ['::1', '::1', 6],
    ['1::', '1::', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['0:0:0:0:0:ffff:10.1.2.3', '::ffff:10.1.2.3', 6],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 6],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', 6],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8', 6],
  ];
  for (const [text, canonical, family] of good) {
    test(`${text} -> ${canonical}`, () => {
      const parsed = parseIp(text);
      assert.ok(parsed.ok);
      assert.equal(parsed.value.text, canonical);
      assert.equal(parsed.value.family, family);
    });
  }
  const bad = [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4/24',
    'fe80::1%eth0',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '::1.2.3',
    '1.2.3.4::',
    ' 1.2.3.4',
    'g::1',
  ];
  for (const text of bad) {
    test(`${JSON.stringify(text)} is refused`, () => assert.equal(parseIp(text).ok, false));
  }
});

describe('parsePrefix', () => {
  test('canonical text and length', () => {
    const p = parsePrefix('2001:db8:0:0:0:ff00:89e3:bb42/48');
    assert.ok(p.ok);
    assert.equal(p.value.text, '2001:db8::ff00:89e3:bb42/48');
    assert.equal(p.value.prefixLength, 48);
  });
  for (const text of [
    '10.0.0.1',
    '10.0.0.1/',
    '10.0.0.1/33',
    '10.0.0.1/024',
    '10.0.0.1/-1',
    '::/129',
    '::/1.5',
  ]) {
    test(`${text} is refused`, () => assert.equal(parsePrefix(text).ok, false));
  }
  test('host bits and network', () => {
    const p = parsePrefix('10.0.2.1/24');
    assert.ok(p.ok);
    assert.ok(hasHostBits(p.value));
    assert.equal(networkOf(p.value).text, '10.0.2.0/24');
    const q = parsePrefix('2001:db8::1/127');
    assert.ok(q.ok);
    assert.equal(networkOf(q.value).text, '2001:db8::/127');
    const r = parsePrefix('10.0.0.0/8');
    assert.ok(r.ok);
    assert.equal(hasHostBits(r.value), false);
  });
});
