/** netnsctl del (src/cli/netnsctl/del-command.ts), run in this process on a store file: what it says of keys with no value. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runNetnsctl } from './run-netnsctl.js';

const PREFIX = '/vnf-agent/wtc1/linux/config/v1/interface/';

describe('netnsctl del', () => {
  let dir: string;
  let base: string[];
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wtc-del-'));
    base = ['--store', path.join(dir, 'store.db'), '--label', 'wtc1'];
    const value = path.join(dir, 'value.json');
    writeFileSync(value, JSON.stringify({ name: 'wtcd0', type: 'DUMMY' }));
    assert.equal((await runNetnsctl([...base, 'put', 'interface/wtcd0', value])).error, undefined);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a document naming no item and a key with no value: each count says what it counts', async () => {
    const file = path.join(dir, 'items.yaml');
    writeFileSync(file, 'kind: interface\nname: wtcmissing\ntype: DUMMY\n---\nkind: bogus\nname: x\n');
    const one = await runNetnsctl([...base, 'del', '-f', file]);
    assert.equal(one.error?.exitCode, 5);
    // Not "no value under 1 of them" right after "1 document": that read as the document.
    assert.equal(
      one.error?.message,
      `1 document names no item (not deleted); no value under ${PREFIX}wtcmissing`,
    );
    writeFileSync(
      file,
      [
        'kind: interface\nname: wtcmissing\ntype: DUMMY',
        'kind: interface\nname: wtcd0\ntype: DUMMY',
        'kind: bogus\nname: x',
        'kind: bogus\nname: y',
      ].join('\n---\n'),
    );
    const two = await runNetnsctl([...base, 'del', '-f', file]);
    assert.equal(two.stdout, 'deleted 1 of 2 keys');
    assert.equal(
      two.error?.message,
      `2 documents name no item (not deleted); no value under 1 of the 2 keys: ${PREFIX}wtcmissing`,
    );
  });

  test('keys given, none with a value: "any of the N keys", exit 2', async () => {
    const run = await runNetnsctl([...base, 'del', 'interface/wtca', 'interface/wtcb']);
    assert.equal(run.stdout, 'deleted 0 of 2 keys');
    assert.equal(run.error?.exitCode, 2);
    assert.equal(run.error?.message, `no value under any of the 2 keys: ${PREFIX}wtca, ${PREFIX}wtcb`);
  });
});
