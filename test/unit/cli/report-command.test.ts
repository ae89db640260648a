/** netnsctl report (src/cli/netnsctl/report-command.ts): which agents' state directories are read here. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback } from '../../../src/cli/netnsctl/report-command.js';

describe('netnsctl report', () => {
  test('an agent on this host: a loopback --server in every form the client takes, or a unix socket', () => {
    for (const server of [
      'http://127.0.0.1:9191',
      'https://localhost:9191',
      'http://[::1]:9191',
      '127.0.0.1:9191',
      'localhost:9191',
      '[::1]:9191',
      'unix:/run/netns-agent.sock',
    ])
      assert.equal(isLoopback(server), true, server);
    for (const server of [
      'http://192.0.2.1:9191',
      '192.0.2.1:9191',
      'agent.example:9191',
      'http://[2001:db8::1]:9191',
    ])
      assert.equal(isLoopback(server), false, server);
  });
});
