/**
 * The agent (in process, embedded store, Docker watched) with a VETH pair between a named namespace
 * and a container referenced by label, plus a route and an ARP entry in the container's namespace:
 * pending before the container runs, configured within 1 s of its start event, ping across, back
 * in the new namespace after `docker restart`, pending after `docker stop`, back after `docker start`.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerTestContainers, containerState, docker, dockerAnswers } from '../../helpers/docker.js';
import { freePort } from '../../helpers/etcd.js';
import {
  deleteNamespace,
  eventually,
  ipJson,
  makeNamespace,
  type TestNamespace,
} from '../../helpers/kernel.js';
import {
  containerView,
  hasAddress,
  lastStartEventMs,
  pingFrom,
  scenario,
  startAgent,
  tag,
  type IpLink,
  type RunningAgent,
  type Scenario,
} from './fixture.js';

const containers = new DockerTestContainers('msl');
const namespaces: TestNamespace[] = [];
const agents: RunningAgent[] = [];
let available = false;

/** Everything of the scenario is in the container with this pid, and in the hub. */
async function assertApplied(pid: number, s: Scenario): Promise<void> {
  await eventually(async () => {
    const view = await containerView(pid, s);
    assert.ok(view.link, `${s.msIf} in the container namespace (pid ${pid})`);
    assert.ok(view.link.flags.includes('UP'), `${s.msIf} up`);
    assert.ok(hasAddress(view.link, `${s.msAddr}/30`), `${s.msIf} has ${s.msAddr}/30`);
    assert.ok(view.route, `route ${s.routeDst} via ${s.hubAddr} in the container`);
    assert.ok(view.arp, `ARP entry ${s.arpIp} in the container`);
    const hub = ipJson<IpLink[]>(s.hubNs, ['addr', 'show', 'dev', s.hubIf]);
    assert.ok(hasAddress(hub[0], `${s.hubAddr}/30`), `${s.hubIf} has ${s.hubAddr}/30 in ${s.hubNs}`);
  }, 3000);
}

function assertPendingOnMicroservice(a: RunningAgent, s: Scenario): void {
  for (const key of [s.keys.ms, s.keys.route, s.keys.arp]) {
    const st = a.status(key);
    assert.equal(st?.state, 'pending', key);
    assert.match(st?.reason ?? '', new RegExp(`microservice ${s.microservice}\\b`), `${key}: ${st?.reason}`);
  }
  const hub = a.status(s.keys.hub);
  assert.equal(hub?.state, 'pending', s.keys.hub);
  // The hub end waits for its peer, which waits for the microservice.
  assert.match(
    hub?.reason ?? '',
    new RegExp(`${s.msIf}|microservice ${s.microservice}`),
    `hub: ${hub?.reason}`,
  );
}

/**
 * Time from dockerd's start event to the moment both VETH ends were configured (ms), counting only
 * transitions to `configured` made after `since` (a restart must really re-apply them).
 */
async function attachLatency(
  a: RunningAgent,
  s: Scenario,
  containerId: string,
  since: number,
): Promise<number> {
  const configuredAfter = (key: string): number | undefined =>
    a.transitions.find((tr) => tr.key === key && tr.state === 'configured' && tr.at >= since)?.at;
  const all = [s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp];
  await eventually(
    () => {
      for (const key of all) {
        assert.ok(configuredAfter(key) !== undefined, `${key} configured again after the start`);
        assert.equal(a.status(key)?.state, 'configured', key);
      }
    },
    10_000,
    5,
  );
  const vethAt = Math.max(configuredAfter(s.keys.hub) ?? 0, configuredAfter(s.keys.ms) ?? 0);
  const startEvent = await lastStartEventMs(containerId, since);
  return vethAt - startEvent;
}

describe('microservice lifecycle through the agent', () => {
  before(async () => {
    available = await dockerAnswers();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop().catch(() => undefined);
    await containers.removeAll();
    for (const ns of namespaces.splice(0)) deleteNamespace(ns);
  });
  after(async () => {
    await containers.removeAll();
  });

  test('pending before run; run, restart, stop, start: follows the container', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msh');
    namespaces.push(hub);
    const s = scenario(tag(), hub.name);
    const a = await startAgent(s.agentLabel, s.items, true);
    agents.push(a);

    // Put before the container exists: pending, naming the microservice.
    await eventually(() => assertPendingOnMicroservice(a, s), 3000);
    t.diagnostic(
      `pending: ${s.msIf}: ${a.status(s.keys.ms)?.reason}; ${s.hubIf}: ${a.status(s.keys.hub)?.reason}`,
    );
    assert.ok(
      !ipJson<IpLink[]>(hub.name, ['link', 'show']).some((l) => l.ifname === s.hubIf),
      'no hub end yet',
    );

    // docker run: configured within 1 s of the start event; ping across.
    let since = Date.now();
    const c = await containers.run({ label: s.microservice });
    const first = await attachLatency(a, s, c.id, since);
    t.diagnostic(`docker run: start event -> both VETH ends configured in ${first} ms`);
    assert.ok(first < 1000, `configured ${first} ms after the start event`);
    const pid1 = (await containerState(c.id)).pid;
    await assertApplied(pid1, s);
    assert.ok(pingFrom(hub.name, s.msAddr), `ping ${s.msAddr} from ${hub.name}`);

    // docker restart: a new pid, a new namespace; everything back in it.
    since = Date.now();
    await docker('restart', '-t', '2', c.id);
    const pid2 = (await containerState(c.id)).pid;
    assert.notEqual(pid2, pid1, 'restart gives a new pid');
    await eventually(async () => {
      assert.ok((await containerView(pid2, s)).link, 'the VETH end in the new namespace');
    }, 3000);
    const second = await attachLatency(a, s, c.id, since);
    t.diagnostic(`docker restart: start event -> both VETH ends configured in ${second} ms`);
    assert.ok(second < 1000, `configured ${second} ms after the restart's start event`);
    await assertApplied(pid2, s);
    assert.ok(pingFrom(hub.name, s.msAddr), `ping ${s.msAddr} after restart`);

    // docker stop: pending again (naming the microservice); the hub end is gone with the pair.
    await docker('stop', '-t', '2', c.id);
    await a.waitFor([s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp], 'pending', 5000);
    assertPendingOnMicroservice(a, s);
    await eventually(() => {
      assert.ok(
        !ipJson<IpLink[]>(hub.name, ['link', 'show']).some((l) => l.ifname === s.hubIf),
        'hub end removed',
      );
    }, 3000);
    assert.ok(!pingFrom(hub.name, s.msAddr), 'no answer while stopped');

    // docker start: back, in yet another namespace.
    since = Date.now();
    await docker('start', c.id);
    const third = await attachLatency(a, s, c.id, since);
    t.diagnostic(`docker start: start event -> both VETH ends configured in ${third} ms`);
    assert.ok(third < 1000, `configured ${third} ms after the start event`);
    const pid3 = (await containerState(c.id)).pid;
    await assertApplied(pid3, s);
    assert.ok(pingFrom(hub.name, s.msAddr), `ping ${s.msAddr} after start`);
  });

  test("a microservice's namespace is forgotten once its container and its items are gone", async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msh');
    namespaces.push(hub);
    const s = scenario(tag(), hub.name);
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-agent-msu-'));
    try {
      const c = await containers.run({ label: s.microservice });
      const a = await startAgent(s.agentLabel, s.items, true, undefined, dir);
      agents.push(a);
      await a.waitFor([s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp], 'configured', 5000);
      const file = path.join(dir, `${s.agentLabel}.namespaces.json`);
      const used = (): string[] =>
        existsSync(file)
          ? (JSON.parse(readFileSync(file, 'utf8')) as { namespaces: string[] }).namespaces
          : [];
      await eventually(
        () => assert.ok(used().includes(`microservice/${s.microservice}`), used().join()),
        5000,
      );

      await docker('rm', '-f', c.id);
      await a.waitFor([s.keys.ms], 'pending', 5000);
      for (const key of [s.keys.ms, s.keys.route, s.keys.arp]) await a.store.delete(key);
      await eventually(() => {
        assert.ok(!used().includes(`microservice/${s.microservice}`), used().join());
        assert.ok(used().includes(`named/${hub.name}`), 'the hub end is still configured there');
      }, 5000);
    } finally {
      for (const a of agents.splice(0)) await a.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('plan: a running container no item referred to yet is seen, the pair into it would be created', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msh');
    namespaces.push(hub);
    const s = scenario(tag(), hub.name);
    await containers.run({ label: s.microservice });
    const port = await freePort();
    const a = await startAgent(s.agentLabel, new Map(), true, undefined, undefined, `127.0.0.1:${port}`);
    agents.push(a);
    const puts = [...s.items].map(([key, value]) => ({ key, value }));
    // Asked again until Docker's first container list is in (the agent's start does not wait for it).
    const deadline = Date.now() + 5000;
    for (;;) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/plan`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ puts }),
      });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const entries = (JSON.parse(text) as { summary: { entries: { key: string; change: string }[] } })
        .summary.entries;
      const changeOf = (key: string): string | undefined => entries.find((e) => e.key === key)?.change;
      const keys = [s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp];
      if (keys.every((key) => changeOf(key) === 'create')) break;
      if (Date.now() > deadline)
        for (const key of keys) assert.equal(changeOf(key), 'create', `${key}: ${text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test('the host end pending reason names the microservice too', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msh');
    namespaces.push(hub);
    const s = scenario(tag(), hub.name);
    const a = await startAgent(s.agentLabel, s.items, true);
    agents.push(a);
    await a.waitFor([s.keys.hub], 'pending', 3000);
    assert.match(a.status(s.keys.hub)?.reason ?? '', new RegExp(`microservice ${s.microservice}\\b`));
  });

  test('the default namespace as the other end: ping from the host', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const s = scenario(tag(), null);
    const c = await containers.run({ label: s.microservice });
    const a = await startAgent(s.agentLabel, s.items, true);
    agents.push(a);
    try {
      // The container ran before the agent: the first list resolves it.
      await a.waitFor([s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp], 'configured', 5000);
      const pid = (await containerState(c.id)).pid;
      await eventually(async () => {
        const view = await containerView(pid, s);
        assert.ok(hasAddress(view.link, `${s.msAddr}/30`));
        assert.ok(view.route && view.arp);
      }, 3000);
      assert.ok(pingFrom('', s.msAddr), `ping ${s.msAddr} from the host`);
    } finally {
      // The host end lives in the default namespace: make sure it goes even if the agent did not.
      await a.stop().catch(() => undefined);
      await containers.removeAll();
      await eventually(() => {
        assert.ok(!ipJson<IpLink[]>(null, ['link', 'show']).some((l) => l.ifname === s.hubIf));
      }, 3000).catch(() => undefined);
    }
  });
});
