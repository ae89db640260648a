/**
 * Agent restart with the full W1 workload applied (1000 VETH pairs between a hub and 50 namespaces,
 * routes, ARP entries: 4000 items), stopped with SIGTERM and, in a second round, killed with
 * SIGKILL, then started again on the same embedded store. While it is away and comes back, the
 * kernel's link events of the hub and five B namespaces are recorded and a ping runs across one
 * managed pair every 50 ms. Asserted: no event at all for a managed link (so no flap: nothing went
 * down, nothing was deleted or re-created), every ifindex unchanged, everything configured again
 * and exactly W1 in the kernel, zero kernel writes by the new agent, no ping lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AgentProcess, Cleanup, deleteNamespaces, kernelWriteOps, tag } from '../helpers/agent.js';
import {
  addNamespaces,
  checkW1Kernel,
  flaps,
  ifindexes,
  incompleteHistory,
  LinkMonitor,
  mapDifferences,
  operationsTotal,
  PingRun,
  pingablePair,
  putItems,
  w1Config,
  type W1Config,
} from '../helpers/fault.js';
import { skipUnlessRoot } from '../helpers/kernel.js';

/** Full W1: the whole file takes well under a minute on the 2-core development machine. */
const PAIRS = 1000;
const SPREAD = 50;
const MANAGED = /^[xy]\d+$/;
const PINGED = 7;

describe('agent restart with W1 applied', { skip: skipUnlessRoot() }, () => {
  const cleanup = new Cleanup();
  let config: W1Config;
  let storeFile: string;
  let agent: AgentProcess | undefined;
  let allNamespaces: string[];

  before(async () => {
    config = w1Config(`flr${tag()}`, PAIRS, SPREAD);
    pingablePair(config, PINGED);
    allNamespaces = [config.hub, ...config.namespaces];
    addNamespaces(allNamespaces);
    cleanup.add(() => deleteNamespaces(...allNamespaces));
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-fault-restart-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    storeFile = path.join(dir, 'store.db');
    agent = await AgentProcess.start({ label: config.label, store: storeFile });
    cleanup.add(() => agent?.stop('SIGKILL'));
    const t0 = Date.now();
    await putItems(storeFile, config.items);
    await agent.until(config.keys, 'configured', 120_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${agent?.logText()}`);
    });
    console.log(`# W1 (${config.items.length} items) applied in ${Date.now() - t0} ms`);
    checkW1Kernel(config);
  });
  after(() => cleanup.run());

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`${signal}, start again: no link event, same ifindexes, zero writes, no ping lost`, async () => {
      const monitor = await LinkMonitor.start([config.hub, ...config.namespaces.slice(0, 5)]);
      const pair = config.pairs[PINGED]!;
      const ping = new PingRun(config.namespaces[pair.k]!, pair.addressA);
      try {
        await ping.replies(3);
        const before = ifindexes(allNamespaces);
        const since = Date.now();

        await agent!.stop(signal);
        if (signal === 'SIGTERM')
          assert.equal(agent!.child.exitCode, 0, `exit on SIGTERM: ${agent!.logText()}`);
        else assert.equal(agent!.child.signalCode, 'SIGKILL');
        const t0 = Date.now();
        agent = await AgentProcess.start({ label: config.label, store: storeFile });
        await agent.until(config.keys, 'configured', 60_000);
        const resyncMs = Date.now() - t0;
        await sleep(300); // late kernel events, a few more pings
        const result = await ping.stop();
        monitor.stop();

        const events = monitor.of((name) => MANAGED.test(name), since);
        const history = await agent.history();
        const writes = kernelWriteOps(history);
        const operations = await operationsTotal(agent);
        console.log(
          `# ${signal} restart: all configured ${resyncMs} ms after the start; ` +
            `${events.length} link events, ${operations} operations, ${writes.length} kernel writes; ping ${result.replies}/` +
            `${result.transmitted} replies, lost ${result.lost.length}, longest gap ${Math.round(result.maxGapMs)} ms`,
        );
        assert.deepEqual(
          flaps(events).map((e) => `${e.ns}: ${e.line}`),
          [],
          'no managed link went down or was deleted',
        );
        assert.deepEqual(
          events.map((e) => `${e.ns}: ${e.line}`),
          [],
          'no event at all for a managed link',
        );
        assert.deepEqual(mapDifferences(before, ifindexes(allNamespaces)), [], 'every ifindex unchanged');
        checkW1Kernel(config);
        // No operation at all since the start proves it; else the history must list every one.
        if (operations > 0)
          assert.equal(incompleteHistory(history), undefined, 'the history holds every operation');
        assert.deepEqual(
          writes.map((op) => `${op.kind} ${op.key}`),
          [],
          'the restarted agent made no kernel write',
        );
        assert.deepEqual(result.lost, [], 'ping across the managed pair lost no packet');
        assert.ok(result.replies > 0);
      } finally {
        monitor.stop();
        await ping.stop();
      }
    });
  }
});
