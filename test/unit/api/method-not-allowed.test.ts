/**
 * A path the API has, asked with a method it does not take: 405 whose `Allow` names the methods it
 * takes, HEAD wherever GET is (fastify answers HEAD on GET routes). With a token, a client without
 * it gets 401 first: it learns neither the paths nor their methods.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentService } from '../../../src/api/service.js';

const service = {
  subscribe: () => () => undefined,
  statesKnown: () => true,
  status: () => [],
} as unknown as AgentService;

test('405: Allow lists HEAD wherever GET is allowed, and HEAD is answered there', async () => {
  const app = buildApi(service, { webFiles: new Map() });
  try {
    for (const [method, url, allow] of [
      ['POST', '/v1/config/a/b', 'GET, HEAD, PUT, DELETE'],
      ['DELETE', '/v1/kernel', 'GET, HEAD'],
      ['PUT', '/v1/status', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['GET', '/v1/plan', 'POST'],
      ['HEAD', '/v1/plan', 'POST'],
    ] as const) {
      const answer = await app.inject({ method, url });
      assert.equal(answer.statusCode, 405, `${method} ${url}`);
      assert.equal(answer.headers.allow, allow, `${method} ${url}`);
    }
    // What Allow promises: HEAD of a GET endpoint is answered as its GET, without the body.
    const head = await app.inject({ method: 'HEAD', url: '/v1/status' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  } finally {
    await app.close();
  }
});

test('with a token, a request without it (or with a wrong one) is 401 before 405 and 404: no Allow', async () => {
  const app = buildApi(service, { token: 's3cret', webFiles: new Map() });
  try {
    for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
      for (const [method, url] of [
        ['POST', '/v1/config/a/b'],
        ['DELETE', '/v1/kernel'],
        ['GET', '/v1/nothing-here'],
      ] as const) {
        const answer = await app.inject({ method, url, headers });
        assert.equal(answer.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
        assert.equal(answer.headers.allow, undefined, `${method} ${url}: the methods not revealed`);
        assert.equal(answer.headers['www-authenticate'], 'Bearer realm="netns-agent"');
      }
    }
    const withToken = await app.inject({
      method: 'POST',
      url: '/v1/config/a/b',
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(withToken.statusCode, 405);
    assert.equal(withToken.headers.allow, 'GET, HEAD, PUT, DELETE');
    // /metrics wants no token: its 405 is answered to anyone.
    const metrics = await app.inject({ method: 'POST', url: '/metrics' });
    assert.equal(metrics.statusCode, 405);
    assert.equal(metrics.headers.allow, 'GET, HEAD');
  } finally {
    await app.close();
  }
});
