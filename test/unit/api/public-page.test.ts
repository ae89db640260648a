/**
 * With a token, the topology page and its files (no data in them) are served without it: to GET and
 * to HEAD alike; every data endpoint wants the token whatever the method.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentService } from '../../../src/api/service.js';
import type { StaticFile } from '../../../src/api/static.js';

test('with a token: the page answers GET and HEAD without it; data endpoints answer 401', async () => {
  const service = {
    subscribe: () => () => undefined,
    statesKnown: () => true,
    status: () => [],
  } as unknown as AgentService;
  const page: StaticFile = { contentType: 'text/html; charset=utf-8', body: Buffer.from('<!doctype html>') };
  const script: StaticFile = { contentType: 'text/javascript; charset=utf-8', body: Buffer.from('1;') };
  const webFiles = new Map([
    ['/ui/index.html', page],
    ['/ui/client/main.js', script],
  ]);
  const app = buildApi(service, { token: 's3cret', webFiles });
  try {
    for (const method of ['GET', 'HEAD'] as const) {
      for (const url of ['/', '/index.html', '/ui/client/main.js']) {
        const answer = await app.inject({ method, url });
        assert.equal(answer.statusCode, 200, `${method} ${url}`);
      }
      assert.equal((await app.inject({ method, url: '/v1/status' })).statusCode, 401, `${method} /v1/status`);
      const withToken = await app.inject({
        method,
        url: '/v1/status',
        headers: { authorization: 'Bearer s3cret' },
      });
      assert.equal(withToken.statusCode, 200, `${method} /v1/status with the token`);
    }
  } finally {
    await app.close();
  }
});
