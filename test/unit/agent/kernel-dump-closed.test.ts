/**
 * GET /v1/kernel reads the namespaces one after another (AgentApiService.kernel): one whose view
 * is closed while it is read (a namespace deleted, the agent letting it go) is left out, as one
 * closed before its turn is, rather than failing the answer after its text has begun.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentApiService } from '../../../src/agent/service.js';
import { ClosedError } from '../../../src/errors.js';
import type { NamespaceDump } from '../../../src/agent/kernel-view.js';

interface FakeView {
  id: string;
  handle: Record<string, () => Promise<unknown[]>>;
}

function serviceWith(ids: string[], closing: string, failing?: string): AgentApiService {
  const views = new Map<string, FakeView>();
  const handleOf = (id: string): FakeView['handle'] => {
    const list = async (): Promise<unknown[]> => {
      await Promise.resolve();
      if (id === closing) {
        views.delete(id); // closed while its dump was under way: its requests fail
        throw new ClosedError('netlink handle');
      }
      if (id === failing) throw new Error('EPERM');
      return [];
    };
    return { linkList: list, addrList: list, routeList: list, neighList: list };
  };
  for (const id of ids) views.set(id, { id, handle: handleOf(id) });
  const fakeViews = { all: () => [...views.values()], get: (id: string) => views.get(id) };
  const engine = { onStatus: () => undefined };
  const interfaces = { states: () => new Map() };
  return new AgentApiService(
    engine as never,
    {} as never,
    fakeViews as never,
    {} as never,
    interfaces as never,
    'kd',
  );
}

async function namespacesOf(service: AgentApiService): Promise<string[]> {
  const seen: string[] = [];
  for await (const dump of service.kernel()) seen.push((dump as NamespaceDump).namespace);
  return seen;
}

test('a namespace closed while it is read is left out; the others come', async () => {
  const service = serviceWith(['default', 'named/a', 'named/b'], 'named/a');
  assert.deepEqual(await namespacesOf(service), ['default', 'named/b']);
});

test('a namespace that cannot be read and is still open fails the answer', async () => {
  const service = serviceWith(['default', 'named/a'], 'none', 'named/a');
  await assert.rejects(namespacesOf(service), /EPERM/);
});
