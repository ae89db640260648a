/**
 * --http unix:/path: a socket file left by a killed agent (nothing listens on it) does not keep the
 * next start from serving its API; a socket something listens on, or another file, is not touched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { request } from 'node:http';
import { startApi } from '../../../src/api/server.js';
import type { AgentService } from '../../../src/api/service.js';

function fakeService(): AgentService {
  return {
    subscribe: () => () => undefined,
    statusCounts: () => ({}),
    datastore: () => ({ state: 'in-sync', since: '2026-12-03T07:00:00.000Z' }),
  } as unknown as AgentService;
}

function get(socketPath: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: url }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A process that listens on `socket` and exits without closing it, as a killed agent does. */
function leaveStaleSocket(socket: string): void {
  const script = `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.exit(0))`;
  const run = spawnSync(process.execPath, ['-e', script]);
  assert.equal(run.status, 0, String(run.stderr));
  assert.ok(statSync(socket).isSocket(), 'the socket file stays behind');
}

test('a socket file nothing listens on (a killed agent left it) is replaced; the API answers there, mode 0600', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netns-unit-sock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'api.sock');
  leaveStaleSocket(socket);
  // Before, listen() failed with EADDRINUSE: the agent could not start with its API.
  const api = await startApi(fakeService(), { listen: `unix:${socket}` });
  try {
    assert.equal((statSync(socket).mode & 0o777).toString(8), '600');
    assert.equal(await get(socket, '/v1/status?summary'), 200);
  } finally {
    await api.close();
  }
});

test('a socket something listens on, or a file that is not a socket, is left alone: the start fails', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netns-unit-sock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'busy.sock');
  const other = createServer((connection) => connection.end());
  await new Promise<void>((resolve) => other.listen(socket, resolve));
  try {
    await assert.rejects(startApi(fakeService(), { listen: `unix:${socket}` }), /EADDRINUSE/);
    assert.ok(statSync(socket).isSocket());
  } finally {
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
  const file = path.join(dir, 'plain');
  writeFileSync(file, 'data');
  await assert.rejects(startApi(fakeService(), { listen: `unix:${file}` }), /EADDRINUSE/);
  assert.ok(existsSync(file));
  assert.equal(readFileSync(file, 'utf8'), 'data');
});
