/**
 * --server: a text that names no agent address is a usage error (exit 2), not an agent that is
 * not running (exit 3).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runNetnsctl } from './run-netnsctl.js';

describe('netnsctl --server', () => {
  test('a host without a port and no scheme, or another scheme: exit 2 naming --server', async () => {
    for (const server of ['garbage', 'localhost', 'ftp://127.0.0.1:21']) {
      const run = await runNetnsctl(['--server', server, 'status']);
      assert.equal(run.error?.exitCode, 2, `${server}: ${run.error?.message}`);
      assert.match(
        run.error?.message ?? '',
        /--server: .* is not http:\/\/HOST:PORT, HOST:PORT or unix:\/path/,
      );
    }
  });

  test('a well-formed address nobody answers at: exit 3, the agent is not reachable', async () => {
    for (const server of ['127.0.0.1:1', 'http://127.0.0.1:1', '127.0.0.1:80', '[::1]:1']) {
      const run = await runNetnsctl(['--server', server, 'status']);
      assert.equal(run.error?.exitCode, 3, `${server}: ${run.error?.message}`);
      assert.match(run.error?.message ?? '', /cannot reach the agent/);
    }
  });
});
