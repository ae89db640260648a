/**
 * put/apply --wait asks the agent of the keys' label: another agent never takes them in (the wait
 * lasted its whole time, "not taken in by the agent yet"), and with no agent at all the values are
 * stored already (--store, --etcd), which the error says.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fakeAgent, runNetnsctl } from './run-netnsctl.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netnsctl-wait-label-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const value = JSON.stringify({
  name: 'wl1',
  type: 'VETH',
  enabled: true,
  namespace: { type: 'NAMED_NS', name: 'wlns' },
  veth: { peer_if_name: 'wl2' },
});

describe('netnsctl --wait and the agent asked', () => {
  test('an agent of another label: exit 2 at once, saying the value is stored and whose agent it asked', async () => {
    const other = await fakeAgent(() => ({ json: { label: 'someoneelse' } }));
    try {
      const file = path.join(dir, 'wl1.json');
      writeFileSync(file, value);
      const started = Date.now();
      const run = await runNetnsctl([
        ...['--store', path.join(dir, 'store.db'), '--label', 'wtl1', '--server', other.server],
        ...['put', 'interface/wl1', file, '--wait-timeout', '20'],
      ]);
      assert.equal(run.error?.exitCode, 2, run.error?.message);
      assert.match(
        run.error?.message ?? '',
        /stored, but cannot wait: the agent at \S+ serves the label someoneelse, not wtl1/,
      );
      assert.ok(Date.now() - started < 5000, 'at once, not after the wait');
      assert.match(run.stdout, /stored \/vnf-agent\/wtl1\/linux\/config\/v1\/interface\/wl1/);
    } finally {
      await other.close();
    }
  });

  test('no agent at --server: exit 3, saying the value is stored', async () => {
    const file = path.join(dir, 'wl1b.json');
    writeFileSync(file, value.replace('"wl1"', '"wl1b"'));
    const run = await runNetnsctl([
      ...['--store', path.join(dir, 'store.db'), '--label', 'wtl1', '--server', 'http://127.0.0.1:1'],
      ...['put', 'interface/wl1b', file, '--wait'],
    ]);
    assert.equal(run.error?.exitCode, 3, run.error?.message);
    assert.match(run.error?.message ?? '', /^stored, but cannot wait for the agent: cannot reach the agent/);
  });
});
