/** netnsctl's short keys (src/cli/netnsctl/keys.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expandKey, expandPrefix } from '../../../src/cli/netnsctl/keys.js';
import { CliError } from '../../../src/cli/netnsctl/client.js';

describe('expandKey', () => {
  test('a short key becomes the whole key under the label', () => {
    assert.equal(expandKey('interface/veth1', 'vpp1'), '/vnf-agent/vpp1/linux/config/v1/interface/veth1');
    assert.equal(expandPrefix('route', 'vpp1'), '/vnf-agent/vpp1/linux/config/v1/route/');
  });

  test('a malformed key and a name no key can hold are both bad usage (exit 2), naming the argument', () => {
    for (const arg of ['bogus', 'interface/a/b', 'interface/wa x']) {
      assert.throws(
        () => expandKey(arg, 'vpp1'),
        (error: unknown) =>
          error instanceof CliError && error.exitCode === 2 && error.message.includes(JSON.stringify(arg)),
        arg,
      );
    }
  });

  test('a name no key can hold names the whole key, which reaches such a key found in the store', () => {
    // Before, only "is not a key": the item `status` shows invalid (on $key) seemed impossible to delete.
    assert.throws(
      () => expandKey('interface/a b', 'vpp1'),
      (error: unknown) =>
        error instanceof CliError &&
        error.message.includes('by its whole key: "/vnf-agent/vpp1/linux/config/v1/interface/a b"'),
    );
  });
});
