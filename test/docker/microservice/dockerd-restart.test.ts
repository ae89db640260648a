/**
 * dockerd restarted while the agent runs: items of the microservice go pending when its container
 * dies with the daemon, everything else keeps working (a pair between named namespaces is put and
 * configured while dockerd is down), and after dockerd is back the agent converges: the container
 * restarted by its restart policy and one started afterwards are both configured, ping works.
 * dockerd is always restored (the helpers of test/helpers/docker.ts), also when the test fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DockerTestContainers,
  containerState,
  dockerAnswers,
  startDockerd,
  stopDockerd,
} from '../../helpers/docker.js';
import { deleteNamespace, eventually, makeNamespace, type TestNamespace } from '../../helpers/kernel.js';
import {
  containerView,
  hasAddress,
  namedPair,
  pingFrom,
  scenario,
  scenarioKeys,
  startAgent,
  tag,
  type RunningAgent,
} from './fixture.js';

const containers = new DockerTestContainers('msd');
const namespaces: TestNamespace[] = [];
let available = false;

describe('dockerd restarted while the agent runs', () => {
  before(async () => {
    available = await dockerAnswers();
  });
  after(async () => {
    if (!(await dockerAnswers())) await startDockerd().catch(() => undefined);
    await containers.removeAll();
    for (const ns of namespaces.splice(0)) deleteNamespace(ns);
  });

  test('pending while the container is gone, other namespaces unaffected, converges afterwards', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msh');
    const n1 = makeNamespace('msn');
    const n2 = makeNamespace('msn');
    namespaces.push(hub, n1, n2);
    const s1 = scenario(tag(), hub.name);
    const second = scenario(tag(), hub.name, s1.agentLabel);
    const items = new Map([...s1.items, ...second.items]);
    const c1 = await containers.run({ label: s1.microservice, extraArgs: ['--restart', 'always'] });
    let a: RunningAgent | undefined;
    let dockerdStopped = false;
    try {
      a = await startAgent(s1.agentLabel, items, true);
      await a.waitFor(scenarioKeys(s1), 'configured', 5000);
      const pid1 = (await containerState(c1.id)).pid;
      assert.ok(pingFrom(hub.name, s1.msAddr), 'ping before the dockerd restart');

      dockerdStopped = true;
      await stopDockerd();
      // Without live-restore, dockerd stops its containers: the namespace goes, items go pending.
      await a.waitFor(scenarioKeys(s1), 'pending', 10_000);
      assert.match(a.status(s1.keys.ms)?.reason ?? '', new RegExp(`microservice ${s1.microservice}\\b`));

      // The rest of the agent works while Docker is away.
      const pair = namedPair(s1.agentLabel, tag(), n1.name, n2.name);
      for (const [key, value] of pair.items) await a.store.put(key, JSON.stringify(value));
      await a.waitFor(pair.keys, 'configured', 5000);
      assert.ok(pingFrom(n1.name, pair.addr2), 'ping across the named pair while dockerd is down');

      await startDockerd();
      dockerdStopped = false;
      const c2 = await containers.run({ label: second.microservice });
      // c1 comes back through its restart policy (new pid), c2 is new: both configured.
      await a.waitFor([...scenarioKeys(s1), ...scenarioKeys(second)], 'configured', 20_000);
      const pid1b = (await containerState(c1.id)).pid;
      assert.notEqual(pid1b, pid1, 'c1 runs in a new process');
      const pid2 = (await containerState(c2.id)).pid;
      await eventually(async () => {
        for (const [pid, s] of [
          [pid1b, s1],
          [pid2, second],
        ] as const) {
          const view = await containerView(pid, s);
          assert.ok(hasAddress(view.link, `${s.msAddr}/30`), `${s.msIf} in pid ${pid}`);
          assert.ok(view.route && view.arp, `route and ARP in pid ${pid}`);
        }
      }, 3000);
      assert.ok(pingFrom(hub.name, s1.msAddr), 'ping c1 after the dockerd restart');
      assert.ok(pingFrom(hub.name, second.msAddr), 'ping c2 after the dockerd restart');
    } finally {
      if (dockerdStopped || !(await dockerAnswers())) await startDockerd();
      await a?.stop().catch(() => undefined);
      await containers.removeAll();
    }
  });
});
