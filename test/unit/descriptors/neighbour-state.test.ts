/** When a neighbour entry of ours is in another state than its item wants: drift (l3-ops.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { neighbourStateDrifted } from '../../../src/descriptors/l3-ops.js';
import type { LinuxArpEntry } from '../../../src/model/index.js';
import {
  NUD_FAILED,
  NUD_NOARP,
  NUD_PERMANENT,
  NUD_PROBE,
  NUD_REACHABLE,
  NUD_STALE,
} from '../../../src/netlink/codec/constants.js';

const entry = (state: LinuxArpEntry['state']): LinuxArpEntry => ({
  name: 'a',
  namespace: { kind: 'default' },
  interface: 'eth0',
  family: 4,
  ipAddress: '10.0.0.9',
  hwAddress: '02:00:00:00:00:09',
  state,
});
const kernel = (state: number) => ({ family: 2, index: 2, address: '10.0.0.9', state, flags: 0, type: 1 });

test('drift: static wanted and dynamic found, or dynamic wanted and static found; never the kernel ageing', () => {
  const cases: [LinuxArpEntry['state'], number, boolean][] = [
    ['PERMANENT', NUD_PERMANENT, false],
    ['PERMANENT', NUD_STALE, true],
    ['PERMANENT', NUD_NOARP, true],
    ['NOARP', NUD_NOARP, false],
    ['NOARP', NUD_REACHABLE, true],
    ['REACHABLE', NUD_REACHABLE, false],
    ['REACHABLE', NUD_STALE, false], // the kernel's own ageing
    ['REACHABLE', NUD_PROBE, false],
    ['REACHABLE', NUD_FAILED, false],
    ['REACHABLE', NUD_PERMANENT, true],
    ['STALE', NUD_REACHABLE, false], // a reply seen
    ['STALE', NUD_PERMANENT, true],
    ['STALE', NUD_NOARP, true],
  ];
  for (const [wanted, found, drifted] of cases)
    assert.equal(neighbourStateDrifted(kernel(found), entry(wanted)), drifted, `${wanted} found as ${found}`);
});
