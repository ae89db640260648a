import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostIfNameProblem, itemNameProblem, namespaceNameProblem } from '../../../src/model/index.js';

describe('host interface names (dev_valid_name)', () => {
  const good = ['eth0', 'veth1Name', 'a', 'x'.repeat(15), 'eth0.100', 'br-lan_1', 'éééééé', 'tap@1'];
  for (const name of good)
    test(`${name} is accepted`, () => assert.equal(hostIfNameProblem(name), undefined));
  const bad = [
    '',
    'x'.repeat(16),
    'éééééééé',
    '.',
    '..',
    'a/b',
    'a:b',
    'a b',
    'a\tb',
    'a\nb',
    'à',
    'a\u0000b',
  ];
  for (const name of bad) {
    test(`${JSON.stringify(name)} is refused`, () => assert.notEqual(hostIfNameProblem(name), undefined));
  }
});

describe('item names and namespace names', () => {
  test('item names', () => {
    assert.equal(itemNameProblem('veth-sixteen-bytes-or-more'), undefined);
    for (const bad of ['', 'a/b', '.', '..', 'a b', 'x'.repeat(256), 'wb\ufffdbad'])
      assert.notEqual(itemNameProblem(bad), undefined);
  });
  test('namespace names', () => {
    assert.equal(namespaceNameProblem('ns 1'), undefined);
    for (const bad of ['', 'a/b', '.', '..', 'n'.repeat(256), 'a\u0001']) {
      assert.notEqual(namespaceNameProblem(bad), undefined);
    }
  });
});
