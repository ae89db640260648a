/**
 * `netnsctl plan` against a running agent: a gateway-less route the plan removes, or changes so that
 * the kernel no longer resolves gateways through it (global scope), takes the reachability of the
 * gateways only it made reachable with it: the routes through them would leave the kernel and wait,
 * and the plan says so, as applying then shows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  Cleanup,
  configKey,
  deleteNamespaces,
  netnsctl,
  seedPair,
  tag,
  type SeedPair,
} from '../helpers/agent.js';

interface PlanEntry {
  key: string;
  change: string;
  why: string;
}

describe(
  'plan: a link route removed or changed takes the gateways it reached',
  { skip: skipUnlessRoot() },
  () => {
    const cleanup = new Cleanup();
    const label = `e2ep${tag()}`;
    let agent: AgentProcess;
    let pair: SeedPair;
    let dir: string;
    let base: string[];
    const file = (name: string, docs: unknown[]): string => {
      const p = path.join(dir, name);
      writeFileSync(p, JSON.stringify(docs));
      return p;
    };
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-plan-routes-'));
      cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
      pair = seedPair(label, 'e2r');
      cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
      agent = await AgentProcess.start({ label, store: path.join(dir, 'store.db') });
      cleanup.add(() => agent.stop());
      base = ['--server', agent.server, '--label', label];
    });
    after(() => cleanup.run());

    test('a default route via 10.0.2.2, reachable only through a 10.0.2.0/24 route of the same interface', async () => {
      const namespace = { type: 'NAMED_NS', name: pair.ns1 };
      const lan = { namespace, interface: 'veth1', dst_ip_addr: '10.0.2.0/24' };
      const viaLan = { namespace, interface: 'veth1', default: true, gw_addr: '10.0.2.2', metric: 50 };
      // Naming no interface: the kernel picks the one whose network holds the gateway.
      const anyLink = { namespace, dst_ip_addr: '10.77.0.0/16', gw_addr: '10.0.2.7' };
      const interfaces = [
        { kind: 'interface', name: 'veth1', value: pair.veth1 },
        { kind: 'interface', name: 'veth2', value: pair.veth2 },
      ];
      const gatewayRoutes = [
        { kind: 'route', name: 'def', value: viaLan },
        { kind: 'route', name: 'any', value: anyLink },
      ];
      const all = file('all.json', [
        ...interfaces,
        ...gatewayRoutes,
        { kind: 'route', name: 'lan', value: lan },
      ]);
      const applied = await netnsctl([...base, 'apply', '-f', all, '--wait-timeout', '20']);
      assert.equal(applied.code, 0, applied.stdout + applied.stderr);

      const plan = async (args: string[]): Promise<Map<string, PlanEntry>> => {
        const out = await netnsctl([...base, 'plan', ...args, '-o', 'json']);
        assert.equal(out.code, 0, out.stderr);
        const entries = (JSON.parse(out.stdout) as { plan: { summary: { entries: PlanEntry[] } } }).plan
          .summary.entries;
        return new Map(entries.map((e) => [e.key.slice(configKey(label, 'route', '').length), e]));
      };
      const waits = (entries: Map<string, PlanEntry>, name: string, gateway: string): void => {
        const entry = entries.get(name);
        assert.equal(entry?.change, 'remove', JSON.stringify([...entries.values()]));
        assert.match(
          entry.why,
          new RegExp(`stays pending: waiting for gateway ${gateway.replaceAll('.', '\\.')}`),
        );
      };

      // Removed (the file is the whole configuration, without it).
      const removed = await plan([
        '-f',
        file('without-lan.json', [...interfaces, ...gatewayRoutes]),
        '--replace',
      ]);
      assert.equal(removed.get('lan')?.change, 'remove');
      waits(removed, 'def', '10.0.2.2');
      waits(removed, 'any', '10.0.2.7');

      // Changed to global scope: the kernel resolves no gateway through it.
      const global = file('lan-global.json', [
        { kind: 'route', name: 'lan', value: { ...lan, scope: { type: 'GLOBAL' } } },
      ]);
      const changed = await plan(['-f', global]);
      assert.equal(changed.get('lan')?.change, 'change');
      waits(changed, 'def', '10.0.2.2');
      waits(changed, 'any', '10.0.2.7');

      // Removed, with another route of that network made instead: nothing waits.
      const replaced = await plan([
        '-f',
        file('other-lan.json', [
          ...interfaces,
          ...gatewayRoutes,
          { kind: 'route', name: 'lan2', value: { ...lan, metric: 7 } },
        ]),
        '--replace',
      ]);
      assert.equal(replaced.get('def'), undefined, JSON.stringify([...replaced.values()]));
      assert.equal(replaced.get('any'), undefined);

      // What applying does: as planned.
      const apply = await netnsctl([...base, 'apply', '-f', global]);
      assert.equal(apply.code, 0, apply.stderr);
      await agent.until([configKey(label, 'route', 'def'), configKey(label, 'route', 'any')], 'pending');
    });
  },
);
