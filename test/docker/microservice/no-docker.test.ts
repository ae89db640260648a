/**
 * Docker is optional: with `docker: false`, or with DOCKER_HOST naming a socket nobody listens on,
 * the agent configures everything else, and microservice items stay pending (even while a container
 * with their label runs, when dockerd is there to run one).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerTestContainers, dockerAnswers } from '../../helpers/docker.js';
import { deleteNamespace, makeNamespace, type TestNamespace } from '../../helpers/kernel.js';
import {
  namedPair,
  pingFrom,
  scenario,
  scenarioKeys,
  startAgent,
  tag,
  type RunningAgent,
} from './fixture.js';

const containers = new DockerTestContainers('msn');
const namespaces: TestNamespace[] = [];
const agents: RunningAgent[] = [];
let available = false;
const NO_DOCKER = `unix:///tmp/netns-agent-no-docker-${process.pid}.sock`;

/** Starts an agent (docker as given) with a microservice scenario and a named pair; checks both. */
async function check(
  t: { diagnostic(message: string): void },
  docker: boolean,
  dockerHost?: string,
): Promise<RunningAgent> {
  const hub = makeNamespace('msh');
  const n1 = makeNamespace('msn');
  const n2 = makeNamespace('msn');
  namespaces.push(hub, n1, n2);
  const s = scenario(tag(), hub.name);
  const pair = namedPair(s.agentLabel, tag(), n1.name, n2.name);
  if (available) await containers.run({ label: s.microservice });
  const a = await startAgent(s.agentLabel, new Map([...s.items, ...pair.items]), docker, dockerHost);
  agents.push(a);
  await a.waitFor(pair.keys, 'configured', 5000);
  assert.ok(pingFrom(n1.name, pair.addr2), 'ping across the named pair');
  await sleep(1500); // long enough for a running container to have been found, were Docker watched
  for (const key of scenarioKeys(s)) assert.equal(a.status(key)?.state, 'pending', key);
  const reason = a.status(s.keys.ms)?.reason ?? '';
  t.diagnostic(`microservice item pending: ${reason}`);
  assert.match(reason, new RegExp(`microservice ${s.microservice}\\b`));
  return a;
}

describe('the agent without Docker', () => {
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

  test('docker: false', async (t) => {
    await check(t, false);
  });

  test('DOCKER_HOST names a socket nobody listens on', async (t) => {
    await check(t, true, NO_DOCKER);
  });

  test('the pending reason says Docker is unreachable (issue 6)', async (t) => {
    const a = await check(t, true, NO_DOCKER);
    const pending = a.agent.status().find((st) => st.reason?.includes('microservice'));
    assert.match(pending?.reason ?? '', /Docker is unreachable/);
  });
});
