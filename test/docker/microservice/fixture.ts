/**
 * Fixtures of the microservice tests: an in-process Agent on an embedded store in a temp file (no
 * HTTP API), a VETH pair between a test-made named namespace ("hub") and a container referenced by
 * label, plus a route and an ARP entry in the container's namespace. Kernel oracles: `ip -json`
 * through `nsenter -t PID -n` for the container side, `ip -n` for the hub.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Agent } from '../../../src/agent/agent.js';
import { createLogger } from '../../../src/agent/logger.js';
import { arpKey, interfaceKey, routeKey } from '../../../src/model/index.js';
import { openDatastore, type Datastore } from '../../../src/datastore/index.js';
import type { ItemState } from '../../../src/scheduler/types.js';
import type { ItemStatus } from '../../../src/api/service.js';

const run = promisify(execFile);

/** A short random tag: labels, names and addresses of one test never collide with another's. */
export function tag(): string {
  return randomBytes(3).toString('hex');
}

/** The items of one scenario: keys, names and addresses derived from a tag. */
export interface Scenario {
  agentLabel: string;
  microservice: string;
  hubNs: string;
  hubIf: string;
  msIf: string;
  hubAddr: string;
  msAddr: string;
  routeDst: string;
  arpIp: string;
  arpMac: string;
  keys: { hub: string; ms: string; route: string; arp: string };
  /** key -> JSON value. */
  items: Map<string, unknown>;
}

export function scenario(t: string, hubNs: string | null, agentLabel = `msa-${t}`): Scenario {
  const microservice = `ms-${t}`;
  const n = parseInt(t.slice(0, 4), 16);
  const b = (n >> 8) & 0xff;
  const c = n & 0xfc;
  const hubAddr = `10.201.${b}.${c + 1}`;
  const msAddr = `10.201.${b}.${c + 2}`;
  const hubIf = `h${t}`;
  const msIf = `m${t}`;
  const hubNsRef = hubNs === null ? {} : { namespace: { type: 'NAMED_NS', name: hubNs } };
  const msNsRef = { type: 'MICROSERVICE_REF_NS', microservice };
  const keys = {
    hub: interfaceKey(agentLabel, hubIf),
    ms: interfaceKey(agentLabel, msIf),
    route: routeKey(agentLabel, `r${t}`),
    arp: arpKey(agentLabel, `a${t}`),
  };
  const routeDst = `10.202.${b}.0/24`;
  const arpIp = `10.201.${b}.${c + 3}`;
  const arpMac = '02:00:00:aa:bb:03';
  const items = new Map<string, unknown>([
    [
      keys.hub,
      {
        name: hubIf,
        type: 'VETH',
        enabled: true,
        ip_addresses: [`${hubAddr}/30`],
        ...hubNsRef,
        veth: { peer_if_name: msIf },
      },
    ],
    [
      keys.ms,
      {
        name: msIf,
        type: 'VETH',
        enabled: true,
        ip_addresses: [`${msAddr}/30`],
        namespace: msNsRef,
        veth: { peer_if_name: hubIf },
      },
    ],
    [
      keys.route,
      {
        name: `r${t}`,
        namespace: msNsRef,
        interface: msIf,
        dst_ip_addr: routeDst,
        gw_addr: hubAddr,
        metric: 50,
      },
    ],
    [
      keys.arp,
      {
        name: `a${t}`,
        namespace: msNsRef,
        interface: msIf,
        ip_addr: arpIp,
        hw_address: arpMac,
        state: { type: 'PERMANENT' },
      },
    ],
  ]);
  return {
    agentLabel,
    microservice,
    hubNs: hubNs ?? '',
    hubIf,
    msIf,
    hubAddr,
    msAddr,
    routeDst,
    arpIp,
    arpMac,
    keys,
    items,
  };
}

/** State changes of every item, with the time they happened. */
export interface Transition {
  key: string;
  state: ItemState;
  reason: string | undefined;
  at: number;
}

export interface RunningAgent {
  agent: Agent;
  store: Datastore;
  transitions: Transition[];
  status(key: string): ItemStatus | undefined;
  /** Waits until every key is in `state`; returns the time (ms) the last of them got there. */
  waitFor(keys: string[], state: ItemState, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts an Agent in this process on a fresh store file with `items` already stored (so the first
 * full read holds them). `docker` as in AgentOptions; `dockerHost`: DOCKER_HOST while the agent is
 * constructed (its Docker client reads it then; the docker CLI of the tests keeps the real one).
 */
export async function startAgent(
  label: string,
  items: Map<string, unknown>,
  docker: boolean,
  dockerHost?: string,
  /** A directory of the caller's (store and state files): kept by stop(), for a restart on it. */
  keptDir?: string,
  /** HOST:PORT for the agent's API (none by default). */
  http = '',
): Promise<RunningAgent> {
  const dir = keptDir ?? mkdtempSync(path.join(tmpdir(), 'netns-agent-ms-'));
  const removeDir = (): void => {
    if (keptDir === undefined) rmSync(dir, { recursive: true, force: true });
  };
  const storeFile = path.join(dir, 'store.db');
  const store = openDatastore({ file: storeFile });
  let agent: Agent | undefined;
  try {
    for (const [key, value] of items) await store.put(key, JSON.stringify(value));
    const level = process.env['NETNS_AGENT_TEST_LOG'] === '1' ? 'info' : 'silent';
    const saved = process.env['DOCKER_HOST'];
    if (dockerHost !== undefined) process.env['DOCKER_HOST'] = dockerHost;
    try {
      agent = new Agent({ label, storeFile, http, docker, logger: createLogger(level, process.stderr) });
    } finally {
      if (saved === undefined) delete process.env['DOCKER_HOST'];
      else process.env['DOCKER_HOST'] = saved;
    }
    const transitions: Transition[] = [];
    agent.engine.onStatus((changes) => {
      const at = Date.now();
      for (const s of changes) transitions.push({ key: s.key, state: s.state, reason: s.reason, at });
    });
    await agent.start();
    const started = agent;
    const status = (key: string): ItemStatus | undefined => started.statusOf(key);
    return {
      agent: started,
      store,
      transitions,
      status,
      async waitFor(keys, state, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        while (!keys.every((k) => status(k)?.state === state)) {
          if (Date.now() > deadline) {
            const report = keys.map(
              (k) =>
                `${k.slice(k.lastIndexOf('/') + 1)}=${status(k)?.state}(${status(k)?.reason ?? status(k)?.error ?? ''})`,
            );
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${state}: ${report.join(', ')}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        let last = 0;
        for (const k of keys) {
          const hit = transitions.filter((tr) => tr.key === k && tr.state === state).at(-1);
          last = Math.max(last, hit?.at ?? 0);
        }
        return last;
      },
      async stop() {
        await started.stop();
        await store.close();
        removeDir();
      },
    };
  } catch (error) {
    await agent?.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    removeDir();
    throw error;
  }
}

/** `nsenter -t PID -n ip -json ARGS`, parsed. */
export async function ipInPid<T = unknown>(pid: number, args: string[]): Promise<T> {
  const { stdout } = await run('nsenter', ['-t', String(pid), '-n', 'ip', '-json', ...args]);
  const out = stdout.trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  operstate: string;
  flags: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** The container namespace's view of our scenario: the link (with addresses), our route, our ARP entry. */
export async function containerView(
  pid: number,
  s: Scenario,
): Promise<{ link: IpLink | undefined; route: boolean; arp: boolean }> {
  const links = await ipInPid<IpLink[]>(pid, ['addr', 'show']);
  const link = links.find((l) => l.ifname === s.msIf);
  const routes = await ipInPid<{ dst: string; gateway?: string; dev: string }[]>(pid, ['route', 'show']);
  const route = routes.some((r) => r.dst === s.routeDst && r.gateway === s.hubAddr && r.dev === s.msIf);
  const neigh = await ipInPid<{ dst: string; lladdr?: string; dev: string; state?: string[] }[]>(pid, [
    'neigh',
    'show',
  ]);
  const arp = neigh.some((e) => e.dst === s.arpIp && e.lladdr === s.arpMac && e.dev === s.msIf);
  return { link, route, arp };
}

/** Whether `addr/len` is on the link. */
export function hasAddress(link: IpLink | undefined, cidr: string): boolean {
  const [addr, len] = cidr.split('/');
  return (link?.addr_info ?? []).some((a) => a.local === addr && a.prefixlen === Number(len));
}

/** One ping from a named namespace (or the default one when ns is ''); true when answered. */
export function pingFrom(ns: string, address: string): boolean {
  const args =
    ns === ''
      ? ['ping', '-c', '1', '-W', '2', address]
      : ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '2', address];
  try {
    execFileSync(ns === '' ? 'ping' : 'ip', ns === '' ? args.slice(1) : args, {
      stdio: 'ignore',
      timeout: 10_000,
    });
    return true;
  } catch {
    return false;
  }
}

/** Time (ms) of the container's last `start` event, as dockerd stamped it. */
export async function lastStartEventMs(containerId: string, sinceMs: number): Promise<number> {
  const { stdout } = await run('docker', [
    'events',
    '--since',
    (sinceMs / 1000 - 1).toFixed(3),
    '--until',
    (Date.now() / 1000 + 1).toFixed(3),
    '--filter',
    `container=${containerId}`,
    '--filter',
    'event=start',
    '--format',
    '{{.TimeNano}}',
  ]);
  const times = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(BigInt(l.trim()) / 1_000_000n));
  const last = times.at(-1);
  if (last === undefined) throw new Error(`no start event of ${containerId} since ${sinceMs}`);
  return last;
}

/** A VETH pair between two named namespaces (nothing to do with Docker). */
export function namedPair(
  agentLabel: string,
  t: string,
  ns1: string,
  ns2: string,
): { keys: string[]; items: Map<string, unknown>; addr2: string } {
  const n = parseInt(t.slice(0, 4), 16);
  const b = (n >> 8) & 0xff;
  const c = n & 0xfc;
  const a1 = `x${t}`;
  const a2 = `y${t}`;
  const keys = [interfaceKey(agentLabel, a1), interfaceKey(agentLabel, a2)];
  const items = new Map<string, unknown>([
    [
      keys[0]!,
      {
        name: a1,
        type: 'VETH',
        enabled: true,
        ip_addresses: [`10.203.${b}.${c + 1}/30`],
        namespace: { type: 'NAMED_NS', name: ns1 },
        veth: { peer_if_name: a2 },
      },
    ],
    [
      keys[1]!,
      {
        name: a2,
        type: 'VETH',
        enabled: true,
        ip_addresses: [`10.203.${b}.${c + 2}/30`],
        namespace: { type: 'NAMED_NS', name: ns2 },
        veth: { peer_if_name: a1 },
      },
    ],
  ]);
  return { keys, items, addr2: `10.203.${b}.${c + 2}` };
}

/** All four keys of a scenario. */
export function scenarioKeys(s: Scenario): string[] {
  return [s.keys.hub, s.keys.ms, s.keys.route, s.keys.arp];
}
