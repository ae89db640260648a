/**
 * `netnsctl apply` stopped midway: against a stub of the agent's API, what it says was stored, not
 * stored (the agent answered so: 503, its datastore away) and maybe stored (a part of the file
 * sent and never answered). apply stores a file in parts of 500 items (POST /v1/config each).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { netnsctl } from '../helpers/agent.js';

type PutAnswer = 'ok' | '503' | 'none';

/**
 * Answers the dry run with nothing refused, and each write (a part of `apply` or `del -f`: POST
 * /v1/config, every key of it there before) as `answers` says, in order.
 */
async function stubAgent(answers: PutAnswer[]): Promise<{ server: Server; url: string }> {
  let puts = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const write =
        request.method === 'DELETE' || (request.method === 'POST' && request.url === '/v1/config');
      if (write) {
        const answer = answers[puts++] ?? 'ok';
        if (answer === 'none') return request.socket.destroy();
        if (answer === '503') {
          response.writeHead(503, { 'content-type': 'application/json' });
          return response.end(JSON.stringify({ error: 'the datastore is not reachable' }));
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        const { puts: stored = [], deletes = [] } = (body ? JSON.parse(body) : {}) as {
          puts?: unknown[];
          deletes?: string[];
        };
        return response.end(JSON.stringify({ stored: stored.length, deleted: deletes, revision: puts }));
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ actions: [], invalid: [], summary: { entries: [] } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('netnsctl apply stopped midway', () => {
  let dir: string;
  let file: string;
  /** Three parts for apply: 500, 500 and 200 items. */
  let bigFile: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'apply-stop-'));
    file = path.join(dir, 'items.yaml');
    bigFile = path.join(dir, 'big.yaml');
    const item = (name: string): string =>
      `kind: arp\nname: ${name}\ninterface: eth0\nip_addr: 10.0.0.9\nhw_address: "02:00:00:00:00:09"\n`;
    writeFileSync(file, ['as1', 'as2', 'as3'].map(item).join('---\n'));
    writeFileSync(bigFile, Array.from({ length: 1200 }, (_, i) => item(`ab${i}`)).join('---\n'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A 503 of a part is no proof that nothing of it was written (an agent on etcd writes a part in
  // transactions of 128 keys): maybe stored, as a part never answered.
  for (const [answers, notStored, maybe] of [
    [['ok', '503'], 200, 500],
    [['ok', 'none'], 200, 500],
  ] as [PutAnswer[], number, number][]) {
    test(`parts answered ${answers.join(', ')}: ${notStored} not stored, ${maybe} maybe stored`, async () => {
      const { server, url } = await stubAgent(answers);
      try {
        const result = await netnsctl(['--server', url, 'apply', '-f', bigFile]);
        assert.equal(result.code, 3, result.stderr);
        assert.match(result.stderr, /stopped after storing 500 of 1200 items/, result.stderr);
        assert.match(result.stderr, new RegExp(`not stored \\(${notStored}\\)`), result.stderr);
        if (maybe > 0) assert.match(result.stderr, new RegExp(`maybe stored \\(${maybe}\\)`), result.stderr);
        else assert.doesNotMatch(result.stderr, /maybe stored/, result.stderr);
      } finally {
        server.close();
      }
    });
  }

  test('etcd refusing every connection: nothing stored, nothing "maybe"; -o json says so on stdout', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await netnsctl(['--etcd', `http://127.0.0.1:${port}`, '-o', 'json', 'apply', '-f', file]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /stopped after storing 0 of 3 items; not stored \(3\)/, result.stderr);
    assert.doesNotMatch(result.stderr, /maybe stored/, result.stderr);
    const data = JSON.parse(result.stdout) as {
      stored: string[];
      notStored: string[];
      maybeStored: string[];
    };
    assert.deepEqual([data.stored, data.notStored.length, data.maybeStored.length], [0, 3, 0]);
  });

  test('del -f stopped by an agent that went away: what was deleted, not deleted, maybe deleted; a document naming no item is said', async () => {
    const { server, url } = await stubAgent(['ok', 'none', 'none']);
    const withUnkeyed = path.join(dir, 'unkeyed.yaml');
    writeFileSync(withUnkeyed, `${readFileSync(bigFile, 'utf8')}---\nkind: nonsense\nname: x\n`);
    try {
      const result = await netnsctl(['--server', url, 'del', '-f', withUnkeyed]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /not deleted \(no key\): document 1201: /);
      assert.match(result.stderr, /stopped after deleting 500 of 1200 keys/);
      assert.match(result.stderr, /not deleted \(200\)/);
      assert.match(result.stderr, /maybe deleted \(500\)/);
    } finally {
      server.close();
    }
    const onlyUnkeyed = path.join(dir, 'only-unkeyed.yaml');
    writeFileSync(onlyUnkeyed, 'kind: nonsense\nname: x\n');
    const none = await netnsctl(['--server', 'http://127.0.0.1:1', 'del', '-f', onlyUnkeyed]);
    assert.equal(none.code, 5, none.stderr);
    assert.match(none.stderr, /no document names an item/);
  });
});
