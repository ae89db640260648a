import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownedConfigName, ownerAlias, tapTempNameOf } from '../../../src/descriptors/ownership.js';

test('ownership: a mark names the label and config name; an AUTO_TAP mark also its temporary name', () => {
  const plain = ownerAlias('vpp1', 'veth1');
  assert.equal(plain, 'netns-agent:vpp1:veth1');
  assert.equal(ownedConfigName('vpp1', plain), 'veth1');
  assert.equal(tapTempNameOf(plain), undefined);

  const tap = ownerAlias('vpp1', 'tap1', 'tap0');
  assert.equal(tap, 'netns-agent:vpp1:tap1 tap=tap0');
  assert.equal(ownedConfigName('vpp1', tap), 'tap1');
  assert.equal(tapTempNameOf(tap), 'tap0');

  // Another label's mark, someone else's alias, none: not ours.
  assert.equal(ownedConfigName('vpp2', tap), undefined);
  assert.equal(ownedConfigName('vpp1', 'uplink to the rack'), undefined);
  assert.equal(ownedConfigName('vpp1', undefined), undefined);
  assert.equal(tapTempNameOf(undefined), undefined);
});
