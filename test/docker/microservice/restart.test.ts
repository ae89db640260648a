/**
 * The agent restarted with a VETH pair into a running container: before Docker's first container
 * list (or while Docker is down), the container's namespace is where the agent last saw it
 * (src/agent/microservice-memory.ts), so the restart keeps the pair (same ifindexes, no deletion)
 * instead of taking the microservice's items for unwanted. Also with --no-docker (not followed then).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerTestContainers, containerState, dockerAnswers } from '../../helpers/docker.js';
import { deleteNamespace, ipJson, makeNamespace, type TestNamespace } from '../../helpers/kernel.js';
import { MicroserviceMemory } from '../../../src/agent/microservice-memory.js';
import {
  containerView,
  ipInPid,
  scenario,
  startAgent,
  tag,
  type IpLink,
  type RunningAgent,
} from './fixture.js';

const containers = new DockerTestContainers('msr');
const namespaces: TestNamespace[] = [];
const agents: RunningAgent[] = [];
const dirs: string[] = [];
let available = false;

describe('agent restart with a microservice running', () => {
  before(async () => {
    available = await dockerAnswers();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop().catch(() => undefined);
    await containers.removeAll();
    for (const ns of namespaces.splice(0)) deleteNamespace(ns);
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  after(async () => {
    await containers.removeAll();
  });

  test('keeps the pair into the container, whether Docker answers at once, later, not at all, or is not watched', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const hub = makeNamespace('msr');
    namespaces.push(hub);
    const s = scenario(tag(), hub.name);
    // A second container: Docker's first list is read one container at a time, and none may be
    // forgotten meanwhile.
    const s2 = scenario(tag(), hub.name, s.agentLabel);
    const items = new Map([...s.items, ...s2.items]);
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-agent-msr-'));
    dirs.push(dir);
    const c = await containers.run({ label: s.microservice });
    const c2 = await containers.run({ label: s2.microservice });
    const pid = (await containerState(c.id)).pid;
    const pid2 = (await containerState(c2.id)).pid;
    const keys = [s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp, s2.keys.hub, s2.keys.ms];

    const first = await startAgent(s.agentLabel, items, true, undefined, dir);
    agents.push(first);
    await first.waitFor(keys, 'configured');
    const hubIndex = (): number | undefined =>
      ipJson<IpLink[]>(hub.name, ['link', 'show']).find((l) => l.ifname === s.hubIf)?.ifindex;
    const msIndex = async (): Promise<number | undefined> => (await containerView(pid, s)).link?.ifindex;
    const hubIndex2 = (): number | undefined =>
      ipJson<IpLink[]>(hub.name, ['link', 'show']).find((l) => l.ifname === s2.hubIf)?.ifindex;
    const msIndex2 = async (): Promise<number | undefined> => (await containerView(pid2, s2)).link?.ifindex;
    const indexes = async () => ({
      hub: hubIndex(),
      ms: await msIndex(),
      hub2: hubIndex2(),
      ms2: await msIndex2(),
    });
    const before = await indexes();
    assert.ok(before.hub && before.ms && before.hub2 && before.ms2, 'the pairs are there');
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    assert.ok(
      existsSync(MicroserviceMemory.fileFor(dir, s.agentLabel)),
      'where the container ran is remembered',
    );

    for (const [what, dockerHost, docker] of [
      ['Docker watched', undefined, true],
      ['Docker unreachable', `unix://${path.join(dir, 'no-docker.sock')}`, true],
      ['Docker not watched (--no-docker)', undefined, false],
    ] as const) {
      const again = await startAgent(s.agentLabel, items, docker, dockerHost, dir);
      agents.push(again);
      await again.waitFor(keys, 'configured');
      await new Promise((resolve) => setTimeout(resolve, 1000)); // Docker's list (or its absence) is in
      for (const key of keys) assert.equal(again.status(key)?.state, 'configured', `${what}: ${key}`);
      const deletions = again.agent.engine
        .transactions()
        .flatMap((tr) => tr.operations)
        .filter((op) => op.kind === 'delete');
      assert.deepEqual(deletions, [], `${what}: nothing deleted`);
      assert.deepEqual(await indexes(), before, `${what}: the same pairs`);
      const routes = await ipInPid<{ dst: string }[]>(pid, ['route', 'show']);
      assert.ok(
        routes.some((r) => r.dst === s.routeDst),
        `${what}: the route in the container`,
      );
      await again.stop();
      agents.splice(agents.indexOf(again), 1);
    }
  });
});
