/**
 * netnsctl apply -f (src/cli/netnsctl/file-commands.ts), run in this process against a fake agent:
 * an item the agent's dry run refuses is listed with field errors `[{key, field, message}]`, as the
 * file's own invalid items are (it was the dry run's reason as one string).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reasonErrors } from '../../../src/cli/netnsctl/file-commands.js';
import { fakeAgent, runNetnsctl, type FakeAgent } from './run-netnsctl.js';

const PREFIX = '/vnf-agent/wtc1/linux/config/v1/interface/';
const CLAIM = `host name wtch in the default namespace is already claimed by ${PREFIX}wtcd1`;

describe('netnsctl apply: items the agent refuses', () => {
  let dir: string;
  let file: string;
  let agent: FakeAgent;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wtc-refused-'));
    file = path.join(dir, 'items.yaml');
    writeFileSync(
      file,
      [
        'kind: interface\nname: wtcd1\ntype: DUMMY\nhost_if_name: wtch',
        'kind: interface\nname: wtcd2\ntype: DUMMY\nhost_if_name: wtch',
        // Invalid in the file itself: the form the refused one is to have too.
        'kind: interface\nname: wtcd3\ntype: DUMMY\nmtu: 99999',
      ].join('\n---\n'),
    );
    agent = await fakeAgent(({ method, url }) => {
      if (method === 'POST' && url === '/v1/plan')
        return {
          json: {
            summary: {
              entries: [
                { key: `${PREFIX}wtcd1`, change: 'create', why: 'new' },
                { key: `${PREFIX}wtcd2`, change: 'invalid', why: `host_if_name: ${CLAIM}` },
              ],
            },
          },
        };
      if (method === 'POST' && url === '/v1/config') return { json: { stored: 1, revision: 3 } };
      return { status: 404, json: { error: 'no such endpoint' } };
    });
  });
  after(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("-o json: the refused item's errors are [{key, field, message}], as the file's own", async () => {
    const run = await runNetnsctl([
      '--server',
      agent.server,
      '--label',
      'wtc1',
      '-o',
      'json',
      'apply',
      '-f',
      file,
    ]);
    assert.equal(run.error?.exitCode, 5);
    const data = JSON.parse(run.stdout) as { stored: number; invalid: { key: string; errors: unknown }[] };
    assert.equal(data.stored, 1);
    const byKey = new Map(data.invalid.map((i) => [i.key, i.errors]));
    assert.deepEqual(byKey.get(`${PREFIX}wtcd2`), [
      { key: `${PREFIX}wtcd2`, field: 'host_if_name', message: CLAIM },
    ]);
    const own = byKey.get(`${PREFIX}wtcd3`) as { key: string; field: string; message: string }[];
    assert.deepEqual(Object.keys(own[0] ?? {}).sort(), ['field', 'key', 'message']);
    // The text form is as before: field: message.
    const text = await runNetnsctl(['--server', agent.server, '--label', 'wtc1', 'apply', '-f', file]);
    assert.match(text.stderr, new RegExp(`^invalid ${PREFIX}wtcd2: host_if_name: host name wtch `, 'm'));
  });

  test('a reason of several field errors, or of none named', () => {
    assert.deepEqual(reasonErrors('k', 'mtu: too big; ip_addresses[1]: not an address'), [
      { key: 'k', field: 'mtu', message: 'too big' },
      { key: 'k', field: 'ip_addresses[1]', message: 'not an address' },
    ]);
    assert.deepEqual(reasonErrors('k', 'refused for a reason: of its own'), [
      { key: 'k', field: '$', message: 'refused for a reason: of its own' },
    ]);
  });
});
