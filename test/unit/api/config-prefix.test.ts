/**
 * GET /v1/config?prefix=: one prefix a request. Given twice, the query holds a list, which the store
 * was asked with: it failed, and the client got a 500 for its own mistake.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApi } from '../../../src/api/server.js';
import type { AgentService, ConfigEntry } from '../../../src/api/service.js';

test('GET /v1/config: a prefix given twice is a 400, and the store is not asked', async () => {
  const asked: unknown[] = [];
  const service = {
    subscribe: () => () => undefined,
    listConfig: async (prefix: unknown): Promise<ConfigEntry[]> => {
      asked.push(prefix);
      // As the SQLite store answers a list: "Too many parameter values were provided".
      if (typeof prefix !== 'string') throw new Error('Too many parameter values were provided');
      return [{ key: `${prefix}x`, value: {} }];
    },
  } as unknown as AgentService;
  const app = buildApi(service);
  try {
    const twice = await app.inject({ method: 'GET', url: '/v1/config?prefix=/a/&prefix=/b/' });
    assert.equal(twice.statusCode, 400);
    assert.match(twice.json<{ error: string }>().error, /prefix must be given once/);
    assert.deepEqual(asked, []);
    const once = await app.inject({ method: 'GET', url: '/v1/config?prefix=/a/' });
    assert.equal(once.statusCode, 200);
    assert.deepEqual(once.json(), [{ key: '/a/x', value: {} }]);
    const none = await app.inject({ method: 'GET', url: '/v1/config' });
    assert.equal(none.statusCode, 200);
    assert.deepEqual(asked, ['/a/', '/']);
  } finally {
    await app.close();
  }
});
