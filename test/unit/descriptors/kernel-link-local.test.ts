/** The kernel's own IPv6 link-local address of a link (EUI-64 of its MAC), which items never take off. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKernelLinkLocal } from '../../../src/descriptors/l3-ops.js';

test("the kernel's link-local address of a MAC: fe80::/64 with the EUI-64 id (universal/local bit flipped)", () => {
  const mac = '02:11:22:33:44:55';
  assert.ok(isKernelLinkLocal('fe80::11:22ff:fe33:4455/64', mac));
  assert.ok(isKernelLinkLocal('fe80:0:0:0:11:22ff:fe33:4455/64', mac), 'any spelling');
  assert.ok(isKernelLinkLocal('fe80::211:22ff:fe33:4455/64', '00:11:22:33:44:55'));
  for (const [cidr, why] of [
    ['fe80::1/64', 'another interface id'],
    ['fe80::11:22ff:fe33:4455/128', 'another prefix length'],
    ['fe81::11:22ff:fe33:4455/64', 'not link-local'],
    ['10.0.0.1/24', 'IPv4'],
  ] as const)
    assert.equal(isKernelLinkLocal(cidr, mac), false, why);
  assert.equal(isKernelLinkLocal('fe80::11:22ff:fe33:4455/64', undefined), false, 'no MAC');
});
