/**
 * ConfigSync hands the referenced namespaces to the plugin around each commit: new ones before it
 * (their items are created in the same transaction), ones no longer referenced only after it (their
 * items are removed as "no longer desired", not first sent to pending as "waiting for the
 * namespace", which is what a teardown of everything showed before).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSync } from '../../../src/agent/config-sync.js';
import { MemoryLastValid } from '../../../src/agent/last-valid-file.js';
import { InvalidConfigValue } from '../../../src/descriptors/invalid-value.js';
import { configKey, namespaceId, type LinuxInterface, type NamespaceRef } from '../../../src/model/index.js';
import type { Engine } from '../../../src/scheduler/index.js';

const LABEL = 'vpp1';

function veth(name: string, peer: string, ns: string): string {
  return JSON.stringify({
    name,
    type: 'VETH',
    enabled: true,
    namespace: { type: 'NAMED_NS', name: ns },
    veth: { peer_if_name: peer },
  });
}

/** Records, in order, what the plugin is told and what the engine commits. */
function harness(): { sync: ConfigSync; log: string[] } {
  const log: string[] = [];
  const engine = {
    commit: async (change: { puts?: { key: string }[]; deletes?: string[] }) => {
      const names = (keys: string[]): string => keys.map((k) => k.slice(k.lastIndexOf('/') + 1)).join(',');
      log.push(
        `commit puts=${names((change.puts ?? []).map((p) => p.key))} deletes=${names(change.deletes ?? [])}`,
      );
      return {};
    },
    state: { value: () => undefined },
  } as unknown as Engine;
  const onNamespaces = (refs: NamespaceRef[]): void => {
    log.push(`namespaces ${refs.map(namespaceId).sort().join(',')}`);
  };
  return { sync: new ConfigSync(engine, onNamespaces), log };
}

const key = (name: string): string => configKey(LABEL, 'interface', name);

/**
 * An engine that takes every valid value put (but those of keys in `refusing`: a claim of another
 * item) and records each commit's puts.
 */
function keepingEngine(): {
  engine: Engine;
  commits: { key: string; value: unknown }[][];
  refusing: Set<string>;
  inEffect: Map<string, unknown>;
} {
  const commits: { key: string; value: unknown }[][] = [];
  const inEffect = new Map<string, unknown>();
  const refusing = new Set<string>();
  const engine = {
    commit: async (change: { puts?: { key: string; value: unknown }[]; deletes?: string[] }) => {
      commits.push(change.puts ?? []);
      for (const p of change.puts ?? [])
        if (!(p.value instanceof InvalidConfigValue) && !refusing.has(p.key)) inEffect.set(p.key, p.value);
      for (const k of change.deletes ?? []) inEffect.delete(k);
      return {};
    },
    state: { value: (k: string) => inEffect.get(k) },
  } as unknown as Engine;
  return { engine, commits, refusing, inEffect };
}
const put = (name: string, value: string) => ({ type: 'put' as const, key: key(name), value, revision: 1 });
const del = (name: string) => ({ type: 'delete' as const, key: key(name), revision: 2 });

describe('config sync: namespaces around commits', () => {
  test('a new namespace before the commit; one no longer referenced only after it', async () => {
    const { sync, log } = harness();
    await sync.apply([put('a', veth('a', 'b', 'ns1')), put('b', veth('b', 'a', 'ns2'))]);
    await sync.apply([del('a'), del('b')]);
    assert.deepEqual(log, [
      'namespaces named/ns1,named/ns2',
      'commit puts=a,b deletes=',
      'commit puts= deletes=a,b',
      'namespaces ',
    ]);
  });

  test('an item moved to another namespace: both while it moves, then only the new one', async () => {
    const { sync, log } = harness();
    await sync.apply([put('a', veth('a', 'b', 'ns1'))]);
    log.length = 0;
    await sync.apply([put('a', veth('a', 'b', 'ns2'))]);
    assert.deepEqual(log, [
      'namespaces named/ns1,named/ns2',
      'commit puts=a deletes=',
      'namespaces named/ns2',
    ]);
  });

  test('nothing is handed on when the referenced namespaces do not change', async () => {
    const { sync, log } = harness();
    await sync.apply([put('a', veth('a', 'b', 'ns1'))]);
    log.length = 0;
    await sync.apply([put('b', veth('b', 'a', 'ns1'))]);
    assert.deepEqual(log, ['commit puts=b deletes=']);
  });

  test('a full read that drops a namespace lets it go after the commit', async () => {
    const { sync, log } = harness();
    await sync.replaceAll([
      { key: key('a'), value: veth('a', 'b', 'ns1'), modRevision: 1, createRevision: 1 },
    ]);
    await sync.replaceAll([
      { key: key('b'), value: veth('b', 'a', 'ns2'), modRevision: 2, createRevision: 2 },
    ]);
    assert.deepEqual(log, [
      'namespaces named/ns1',
      'commit puts=a deletes=',
      'namespaces named/ns1,named/ns2',
      'commit puts=b deletes=',
      'namespaces named/ns2',
    ]);
  });

  test('a value made invalid while the agent was down: its last valid value goes first, then the refused one', async () => {
    const { engine, commits, refusing } = keepingEngine();
    const lastValid = new MemoryLastValid();
    const sync = new ConfigSync(engine, () => undefined, undefined, lastValid);
    const good = veth('a', 'b', 'ns1');
    const other = veth('a', 'c', 'ns1');
    const bad = JSON.stringify({ ...(JSON.parse(good) as object), mtu: 10 });
    await sync.apply([{ ...put('a', good), revision: 5 }]);
    assert.deepEqual(lastValid.get(key('a')), { text: good, created: 5 }, 'a valid value is recorded');
    await sync.apply([{ ...put('a', bad), revision: 6 }]);
    assert.deepEqual(lastValid.get(key('a')), { text: good, created: 5 }, 'a refused one is not');
    refusing.add(key('a'));
    await sync.apply([{ ...put('a', other), revision: 7 }]);
    assert.equal(lastValid.get(key('a'))?.text, good, 'nor one the engine refused (a claim)');
    refusing.clear();

    // A start: the store holds the bad value of the same item (created at 5); its last valid one
    // is put before it. An item never valid is refused alone.
    await sync.replaceAll([
      { key: key('a'), value: bad, modRevision: 8, createRevision: 5 },
      { key: key('c'), value: bad.replace('"name":"a"', '"name":"c"'), modRevision: 8, createRevision: 8 },
    ]);
    const kinds = (puts: { key: string; value: unknown }[]) =>
      puts.map((p) => [p.key.slice(p.key.lastIndexOf('/') + 1), p.value instanceof InvalidConfigValue]);
    assert.deepEqual(kinds(commits.at(-1)!), [
      ['a', false],
      ['a', true],
      ['c', true],
    ]);
    assert.deepEqual(lastValid.get(key('a')), { text: good, created: 5 }, 'still the value in effect');
    assert.equal(lastValid.get(key('c')), undefined);

    // Deleted and put again (broken) while the agent was down: another item, nothing to fall back on.
    await sync.replaceAll([{ key: key('a'), value: bad, modRevision: 12, createRevision: 11 }]);
    assert.deepEqual(kinds(commits.at(-1)!), [['a', true]]);
    assert.equal(lastValid.get(key('a')), undefined);
  });

  test('a start gives a disputed claim to the item that held it: the kernel says so, else the value taken before', async () => {
    const { engine, commits, refusing } = keepingEngine();
    const lastValid = new MemoryLastValid();
    const inKernel = new Set<string>();
    const claimOf = (entry: { value: unknown }): string | undefined =>
      entry.value instanceof InvalidConfigValue
        ? undefined
        : `host ${(entry.value as LinuxInterface).hostIfName}`;
    const sync = new ConfigSync(engine, () => undefined, undefined, lastValid, {
      claimsOf: (entry) => {
        const claim = claimOf(entry);
        return claim === undefined ? [] : [claim];
      },
      holders: async (entries) => {
        const byClaim = new Map<string, string[]>();
        for (const e of entries) {
          const claim = claimOf(e);
          if (claim !== undefined) byClaim.set(claim, [...(byClaim.get(claim) ?? []), e.key]);
        }
        const disputed = new Map<string, string>();
        for (const [claim, keys] of byClaim)
          if (keys.length > 1) for (const k of keys) disputed.set(k, claim);
        return { holders: new Set([...inKernel].filter((k) => disputed.has(k))), disputed };
      },
    });
    const end = (name: string, host: string, mtu = 1500): string =>
      JSON.stringify({ ...(JSON.parse(veth(name, 'p', 'ns1')) as object), host_if_name: host, mtu });
    const names = (): string[] => commits.at(-1)!.map((p) => p.key.slice(p.key.lastIndexOf('/') + 1));
    const item = (name: string, value: string, created: number) => ({
      key: key(name),
      value,
      modRevision: created,
      createRevision: created,
    });
    // x-b came first and holds hx; x-a was refused for it (not a last valid value).
    await sync.apply([{ ...put('x-b', end('x-b', 'hx')), revision: 3 }]);
    refusing.add(key('x-a'));
    await sync.apply([{ ...put('x-a', end('x-a', 'hx')), revision: 4 }]);
    inKernel.add(key('y-b'));
    await sync.replaceAll([
      item('x-a', end('x-a', 'hx'), 4),
      item('x-b', end('x-b', 'hx'), 3),
      item('y-a', end('y-a', 'hy'), 5),
      item('y-b', end('y-b', 'hy'), 6),
      item('z', end('z', 'hz'), 7),
    ]);
    // The kernel's holder first, then the one taken before, then the rest in the store's order.
    assert.deepEqual(names(), ['y-b', 'x-b', 'x-a', 'y-a', 'z']);
    assert.equal(lastValid.get(key('x-a')), undefined, 'refused again at the start');
    inKernel.clear();
    // x-b changed while the agent was down, keeping its claim: still the holder, as at run time.
    await sync.replaceAll([item('x-a', end('x-a', 'hx'), 4), item('x-b', end('x-b', 'hx', 1400), 3)]);
    assert.deepEqual(names(), ['x-b', 'x-a']);
    // Made invalid while down: its last valid value is put first (then the refused one), and holds
    // the claim.
    await sync.replaceAll([item('x-a', end('x-a', 'hx'), 4), item('x-b', end('x-b', 'hx', 10), 3)]);
    assert.deepEqual(names(), ['x-b', 'x-b', 'x-a']);
    assert.ok(!(commits.at(-1)![0]!.value instanceof InvalidConfigValue));
    // Given another claim while down: no holder of that one before, the store's order decides; x-b's
    // value before (the engine took it last, holding hx) goes just before its new one, and stays in
    // effect if the new one is refused, as at run time.
    await sync.replaceAll([item('x-a', end('x-a', 'hq'), 4), item('x-b', end('x-b', 'hq'), 3)]);
    assert.deepEqual(names(), ['x-a', 'x-b', 'x-b']);
    const xb = commits.at(-1)!.filter((p) => p.key === key('x-b'));
    assert.deepEqual(
      xb.map((p) => (p.value as LinuxInterface).hostIfName),
      ['hx', 'hq'],
    );
  });

  test('a refused value the engine takes later (the holder let its claim go) becomes the last valid one', async () => {
    const { engine, refusing, inEffect, commits } = keepingEngine();
    const lastValid = new MemoryLastValid();
    const sync = new ConfigSync(engine, () => undefined, undefined, lastValid);
    await sync.apply([{ ...put('n-z', veth('n-z', 'p', 'ns1')), revision: 3 }]);
    refusing.add(key('n-a'));
    const refusedText = veth('n-a', 'p', 'ns1');
    await sync.apply([{ ...put('n-a', refusedText), revision: 4 }]);
    assert.equal(lastValid.get(key('n-a')), undefined);
    // The holder goes; the engine takes the value that waited (as the claim book does).
    refusing.delete(key('n-a'));
    inEffect.set(key('n-a'), commits.at(-1)!.find((p) => p.key === key('n-a'))!.value);
    await sync.apply([{ ...del('n-z'), revision: 5 }]);
    assert.deepEqual(lastValid.get(key('n-a')), { text: refusedText, created: 4 });
  });

  test('changes reach the engine in the order they came, however long each takes to prepare', async () => {
    const { engine, commits } = keepingEngine();
    let calls = 0;
    // The first change waits longer (e.g. the first gateway of a namespace, read before its commit).
    const prepare = async (): Promise<void> =>
      new Promise((resolve) => setTimeout(resolve, calls++ === 0 ? 30 : 0));
    const sync = new ConfigSync(engine, () => undefined, prepare);
    const first = veth('a', 'b', 'ns1');
    const second = veth('a', 'c', 'ns1');
    await Promise.all([
      sync.apply([{ ...put('a', first), revision: 3 }]),
      sync.apply([{ ...put('a', second), revision: 4 }]),
    ]);
    const peers = commits.map(
      (c) => (c[0]!.value as LinuxInterface & { veth: { peerIfName: string } }).veth.peerIfName,
    );
    assert.deepEqual(peers, ['b', 'c'], 'the later value last');
  });

  test('a key deleted and put again at run time is recorded with its new create revision', async () => {
    const { engine } = keepingEngine();
    const lastValid = new MemoryLastValid();
    const sync = new ConfigSync(engine, () => undefined, undefined, lastValid);
    const good = veth('a', 'b', 'ns1');
    await sync.apply([{ ...put('a', good), revision: 3 }]);
    await sync.apply([{ ...put('a', good.replace('"ns1"', '"ns2"')), revision: 4 }]);
    assert.equal(lastValid.get(key('a'))?.created, 3, 'a change keeps the create revision');
    await sync.apply([{ ...del('a'), revision: 5 }]);
    assert.equal(lastValid.get(key('a')), undefined);
    await sync.apply([{ ...put('a', good), revision: 6 }]);
    assert.equal(lastValid.get(key('a'))?.created, 6);
  });
});
