/**
 * Fixtures of the fault tier: the W1 workload as config items in test-made namespaces, a kernel
 * link-event recorder (`ip -o monitor link`), a ping that counts lost replies, and kernel snapshots
 * (ifindexes, managed links, unmanaged objects) to compare before and after a fault.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../../src/datastore/index.js';
import { w1Pairs, type W1Pair } from '../../bench/w1-workload.js';
import { w1Items, type RawItem } from '../../bench/w1-items.js';
import { ownerAlias } from '../../src/descriptors/ownership.js';
import { ip, ipJson, ipTry, uniqueName } from './kernel.js';
import type { AgentProcess, Transaction } from './agent.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

// ---- W1 -----------------------------------------------------------------------------------------

export interface W1Config {
  label: string;
  hub: string;
  namespaces: string[];
  pairs: W1Pair[];
  items: RawItem[];
  keys: string[];
}

/**
 * W1 (bench/w1-items.ts) for `label`: `pairs` VETH pairs between a hub and `spread` namespaces, all
 * named after one unique prefix. End A is `x<i>` in the hub, end B `y<i>` in namespace i % spread.
 */
export function w1Config(label: string, pairs = 1000, spread = 50): W1Config {
  const prefix = uniqueName('flt');
  const hub = `${prefix}h`;
  const namespaces = Array.from({ length: spread }, (_, k) => `${prefix}n${k}`);
  const list = w1Pairs(pairs, spread, { a: 'x', b: 'y' });
  const items = w1Items(label, list, hub, namespaces);
  return { label, hub, namespaces, pairs: list, items, keys: items.map((i) => i.key) };
}

/**
 * Gives end A of pair `i` the MAC that W1's permanent ARP entry in its B namespace names (W1 leaves
 * A's MAC to the kernel, so nothing answers across a W1 pair): a ping across that pair then works.
 */
export function pingablePair(config: W1Config, i: number): W1Pair {
  const pair = config.pairs[i]!;
  const item = config.items.find((it) => it.json.name === pair.a)!;
  item.json = { ...item.json, phys_address: pair.macA };
  return pair;
}

/** `ip netns add` of each name (one `ip -batch`). */
export function addNamespaces(names: string[]): void {
  const run = spawnSync('ip', ['-batch', '-'], {
    input: names.map((n) => `netns add ${n}`).join('\n') + '\n',
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`ip netns add: ${run.stderr}`);
}

/** Puts the items into the embedded store file (the agent running or not). */
export async function putItems(storeFile: string, items: RawItem[]): Promise<void> {
  const store = new SqliteStore({ file: storeFile });
  try {
    await store.putMany(items.map((i) => ({ key: i.key, value: JSON.stringify(i.json) })));
  } finally {
    await store.close();
  }
}

export async function deleteItems(storeFile: string, keys: string[]): Promise<void> {
  const store = new SqliteStore({ file: storeFile });
  try {
    for (const key of keys) await store.delete(key);
  } finally {
    await store.close();
  }
}

/** Items of these pairs only (all four items of each). */
export function itemsOfPairs(config: W1Config, pairs: W1Pair[]): RawItem[] {
  const per = config.items.length / config.pairs.length;
  return pairs.flatMap((p) => config.items.slice(p.i * per, (p.i + 1) * per));
}

interface JsonLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags: string[];
  ifalias?: string;
  link_index?: number;
  link_netnsid?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * Checks that the kernel holds exactly W1 for `pairs` (all others absent): each end named, marked,
 * up, MTU 1400, its /30; the ends paired with each other; in each B namespace exactly our routes
 * (protocol 144) and permanent ARP entries on W1 links; no link of ours or named like ours beyond
 * those. Throws what differs.
 */
export function checkW1Kernel(config: W1Config, pairs: W1Pair[] = config.pairs): void {
  const own = (name: string) => ownerAlias(config.label, name);
  const linksOf = (ns: string) => ipJson<JsonLink[]>(ns, ['addr', 'show']);
  const aliases = (ns: string) =>
    new Map(ipJson<JsonLink[]>(ns, ['link', 'show']).map((l) => [l.ifname, l.ifalias]));
  const ours = /^[xy]\d+$/;
  const wantA = new Map(pairs.map((p) => [p.a, p]));
  const wantB = new Map(pairs.map((p) => [p.b, p]));
  const hubLinks = linksOf(config.hub);
  const hubAliases = aliases(config.hub);
  const bIndex = new Map<string, number>(); // ns/name -> ifindex
  const perNs = new Map<string, W1Pair[]>();
  for (const p of pairs)
    perNs.set(config.namespaces[p.k]!, [...(perNs.get(config.namespaces[p.k]!) ?? []), p]);
  const check = (ns: string, link: JsonLink, alias: string | undefined, address: string) => {
    const where = `${link.ifname} in ${ns}`;
    if (alias !== own(link.ifname)) throw new Error(`${where}: alias ${alias}`);
    if (link.mtu !== 1400) throw new Error(`${where}: MTU ${link.mtu}`);
    if (!link.flags.includes('UP')) throw new Error(`${where}: down`);
    const addrs = (link.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`);
    if (addrs.join() !== `${address}/30`) throw new Error(`${where}: addresses ${addrs.join(' ')}`);
  };
  // Every namespace, also those left without pairs: nothing of ours may remain there.
  const all = [
    [config.hub, pairs] as const,
    ...config.namespaces.map((ns) => [ns, perNs.get(ns) ?? []] as const),
  ];
  for (const [ns, nsPairs] of all) {
    const links = ns === config.hub ? hubLinks : linksOf(ns);
    const names = ns === config.hub ? hubAliases : aliases(ns);
    const want = new Set(nsPairs.map((p) => (ns === config.hub ? p.a : p.b)));
    for (const link of links) {
      const alias = names.get(link.ifname);
      const marked = alias?.startsWith(`netns-agent:${config.label}:`) ?? false;
      if (!want.has(link.ifname)) {
        if (marked || ours.test(link.ifname))
          throw new Error(`unwanted link ${link.ifname} in ${ns} (${alias})`);
        continue;
      }
      want.delete(link.ifname);
      const p = (ns === config.hub ? wantA : wantB).get(link.ifname)!;
      check(ns, link, alias, ns === config.hub ? p.addressA : p.addressB);
      if (ns !== config.hub) bIndex.set(`${ns}/${link.ifname}`, link.ifindex);
    }
    if (want.size) throw new Error(`missing in ${ns}: ${[...want].slice(0, 5).join(' ')} (${want.size})`);
  }
  // Every A end's peer is its own B end.
  for (const link of hubLinks) {
    const p = wantA.get(link.ifname);
    if (!p) continue;
    const peer = bIndex.get(`${config.namespaces[p.k]}/${p.b}`);
    if (link.link_index !== peer) throw new Error(`${p.a}: peer #${link.link_index}, want ${p.b} #${peer}`);
  }
  // Routes and ARP entries: exactly ours, in every B namespace (also those left without pairs).
  for (const ns of config.namespaces) {
    const nsPairs = perNs.get(ns) ?? [];
    const routes = ipJson<{ dst: string; gateway?: string; dev: string }[]>(ns, [
      'route',
      'show',
      'proto',
      '144',
    ])
      .map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`)
      .sort();
    const wantRoutes = nsPairs.map((p) => `${p.routeDst}/24 via ${p.addressA} dev ${p.b}`).sort();
    if (routes.join() !== wantRoutes.join())
      throw new Error(
        `routes in ${ns}: ${routes.length} of ours, want ${wantRoutes.length}: ${routes.slice(0, 3)}`,
      );
    const neighs = ipJson<{ dst: string; lladdr?: string; dev: string; state?: string[] }[]>(ns, [
      'neigh',
      'show',
      'nud',
      'permanent',
    ])
      .filter((n) => ours.test(n.dev))
      .map((n) => `${n.dst} ${n.lladdr} dev ${n.dev}`)
      .sort();
    const wantNeighs = nsPairs.map((p) => `${p.addressA} ${p.macA} dev ${p.b}`).sort();
    if (neighs.join() !== wantNeighs.join())
      throw new Error(
        `ARP in ${ns}: ${neighs.length} permanent on W1 links, want ${wantNeighs.length}: ${neighs.slice(0, 3)}`,
      );
  }
}

// ---- history ----------------------------------------------------------------------------------

/**
 * Why the agent's history cannot prove "no kernel write" (undefined when it can): the ring (100
 * transactions) lost the first ones, or a transaction listed only its first 1000 operations.
 */
export function incompleteHistory(
  history: (Transaction & { operationsOmitted?: number })[],
): string | undefined {
  if (history[0]?.seq !== 1) return `history starts at transaction ${history[0]?.seq}`;
  const cut = history.find((t) => (t.operationsOmitted ?? 0) > 0);
  return cut ? `transaction ${cut.seq} omitted ${cut.operationsOmitted} operations` : undefined;
}

/**
 * Operations the agent ran through its descriptors since it started (its /metrics counter), of
 * the kinds `kind` accepts (create, update, delete).
 */
export async function operationsTotal(
  agent: AgentProcess,
  kind: (kind: string) => boolean = () => true,
): Promise<number> {
  const text = (await agent.request('GET', '/metrics')).text;
  let sum = 0;
  for (const m of text.matchAll(/^netns_agent_operations_total\{([^}]*)\} (\d+)/gm)) {
    const k = /kind="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    if (kind(k)) sum += Number(m[2]);
  }
  return sum;
}

/** Operations of the whole history by kind, from the counts (complete even when lists were cut). */
export function operationCounts(history: Transaction[]): { create: number; update: number; delete: number } {
  const sum = { create: 0, update: 0, delete: 0 };
  for (const t of history) {
    sum.create += t.counts.create;
    sum.update += t.counts.update;
    sum.delete += t.counts.delete;
  }
  return sum;
}

// ---- kernel snapshots -------------------------------------------------------------------------

/** ifindex of every link of these namespaces, as `ns/name -> ifindex`. */
export function ifindexes(namespaces: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const ns of namespaces)
    for (const link of ipJson<JsonLink[]>(ns, ['link', 'show']))
      map.set(`${ns}/${link.ifname}`, link.ifindex);
  return map;
}

/** Entries of `after` that differ from `before` (changed or missing), as readable lines. */
export function mapDifferences(before: Map<string, number>, after: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) if (after.get(k) !== v) out.push(`${k}: #${v} -> ${after.get(k) ?? 'gone'}`);
  for (const [k, v] of after) if (!before.has(k)) out.push(`${k}: new #${v}`);
  return out;
}

/**
 * What the kernel holds about one link and its surroundings, without counters: its attributes,
 * addresses, the routes through it and its neighbours. For "untouched" checks of unmanaged objects.
 */
export function linkState(ns: string, name: string): string {
  // IPv6 link-local routes come and go with duplicate address detection: not ours to judge.
  const linkLocal = (o: Record<string, unknown>) => /^(fe80|ff00)/.test(String(o.dst ?? ''));
  const strip = (text: string) =>
    JSON.stringify(
      (JSON.parse(text || '[]') as Record<string, unknown>[])
        .filter((o) => !linkLocal(o))
        .map((o) => {
          const copy = { ...o };
          for (const k of ['stats64', 'stats', 'operstate', 'linkmode', 'used', 'updated', 'confirmed'])
            delete copy[k];
          if (Array.isArray(copy.addr_info))
            copy.addr_info = (copy.addr_info as Record<string, unknown>[]).map((a) => ({
              ...a,
              valid_life_time: undefined,
              preferred_life_time: undefined,
              tentative: undefined, // IPv6 duplicate address detection of a link just set up
            }));
          return copy;
        }),
    );
  return [
    strip(ip(ns, ['-json', '-details', 'addr', 'show', 'dev', name])),
    strip(ip(ns, ['-json', 'route', 'show', 'table', 'all', 'dev', name])),
    strip(ip(ns, ['-json', 'neigh', 'show', 'dev', name, 'nud', 'permanent'])),
  ].join('\n');
}

// ---- link events ------------------------------------------------------------------------------

export interface LinkEvent {
  ns: string;
  at: number;
  deleted: boolean;
  ifindex: number;
  name: string;
  up: boolean;
  lowerUp: boolean;
  line: string;
}

const EVENT_LINE = /^(Deleted )?(\d+): ([^:@\s]+)(?:@[^:\s]*)?: <([^>]*)>/;

export function parseLinkEvent(ns: string, line: string, at: number): LinkEvent | undefined {
  const m = EVENT_LINE.exec(line);
  if (!m) return undefined;
  const flags = m[4]!.split(',');
  return {
    ns,
    at,
    deleted: m[1] !== undefined,
    ifindex: Number(m[2]),
    name: m[3]!,
    up: flags.includes('UP'),
    lowerUp: flags.includes('LOWER_UP'),
    line,
  };
}

/** Records the kernel's link events of some namespaces (`ip -n NS -o monitor link`, one per namespace). */
export class LinkMonitor {
  readonly events: LinkEvent[] = [];
  readonly #children: ChildProcess[] = [];
  readonly #listeners = new Set<(event: LinkEvent) => void>();

  private constructor(readonly namespaces: string[]) {}

  /** Starts the monitors and returns once each has reported a probe link of its own. */
  static async start(namespaces: string[]): Promise<LinkMonitor> {
    const monitor = new LinkMonitor(namespaces);
    for (const ns of namespaces) {
      const child = spawn('ip', ['-n', ns, '-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
      live.add(child);
      child.once('exit', () => live.delete(child));
      monitor.#children.push(child);
      let buffer = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n')) !== -1) {
          const event = parseLinkEvent(ns, buffer.slice(0, end), Date.now());
          buffer = buffer.slice(end + 1);
          if (!event) continue;
          monitor.events.push(event);
          for (const listener of monitor.#listeners) listener(event);
        }
      });
    }
    try {
      await monitor.#probe();
    } catch (error) {
      monitor.stop();
      throw error;
    }
    return monitor;
  }

  /**
   * A veth pair made in every namespace and changed (its MTU) every 100 ms until each monitor has
   * reported it (a monitor only hears what happens once it has subscribed), then deleted.
   */
  async #probe(): Promise<void> {
    const name = uniqueName('mp');
    const deadline = Date.now() + 10_000;
    for (const ns of this.namespaces)
      ip(ns, ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}q`]);
    try {
      for (let round = 0; ; round++) {
        const heard = new Set(this.events.filter((e) => e.name === name).map((e) => e.ns));
        const silent = this.namespaces.filter((ns) => !heard.has(ns));
        if (silent.length === 0) return;
        if (Date.now() > deadline) throw new Error(`ip monitor silent in ${silent.join(' ')}`);
        if (round % 10 === 9)
          for (const ns of silent) ip(ns, ['link', 'set', name, 'mtu', String(1400 + round)]);
        await sleep(10);
      }
    } finally {
      for (const ns of this.namespaces) ipTry(ns, ['link', 'del', name]);
    }
  }

  /** Calls `listener` for every further event; returns the unsubscribe function. */
  on(listener: (event: LinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events since `since` (ms) of links whose name matches. */
  of(match: (name: string) => boolean, since = 0): LinkEvent[] {
    return this.events.filter((e) => e.at >= since && match(e.name));
  }

  stop(): void {
    for (const child of this.#children) child.kill('SIGKILL');
  }
}

/** A flap among these events: a deletion, or a link reported down or without carrier. */
export function flaps(events: LinkEvent[]): LinkEvent[] {
  return events.filter((e) => e.deleted || !e.up || !e.lowerUp);
}

// ---- ping -------------------------------------------------------------------------------------

export interface PingResult {
  transmitted: number;
  replies: number;
  /** Sequence numbers without a reply, among those sent before the last reply. */
  lost: number[];
  /** Longest time between two replies, ms (ping's own timestamps). */
  maxGapMs: number;
}

/** `ping -i INTERVAL` from a namespace, running until stop(); counts what was lost. */
export class PingRun {
  readonly #child: ChildProcess;
  readonly #replied = new Map<number, number>();
  #out = '';
  #exited: Promise<void>;

  constructor(ns: string, address: string, intervalS = 0.05) {
    this.#child = spawn(
      'ip',
      ['netns', 'exec', ns, 'ping', '-n', '-D', '-O', '-i', String(intervalS), address],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    live.add(this.#child);
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    void this.#exited.then(() => live.delete(this.#child));
    let buffer = '';
    this.#child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#out += chunk;
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        // -D: "[1700000000.123456] 64 bytes from ...: icmp_seq=12 ...", stamped by ping itself.
        const m = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/.exec(line);
        if (m) this.#replied.set(Number(m[2]), Number(m[1]) * 1000);
      }
    });
  }

  /** Resolves once `count` replies came (the path works), or throws after `timeoutMs`. */
  async replies(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#replied.size < count) {
      if (Date.now() > deadline || this.#child.exitCode !== null)
        throw new Error(`ping: ${this.#replied.size} replies: ${this.#out.slice(-500)}`);
      await sleep(20);
    }
  }

  async stop(): Promise<PingResult> {
    this.#child.kill('SIGINT');
    await this.#exited;
    const summary = /(\d+) packets transmitted, (\d+) received/.exec(this.#out);
    const seqs = [...this.#replied.keys()].sort((a, b) => a - b);
    const last = seqs.at(-1) ?? 0;
    const lost: number[] = [];
    for (let seq = 1; seq <= last; seq++) if (!this.#replied.has(seq)) lost.push(seq);
    const times = [...this.#replied.values()].sort((a, b) => a - b);
    let maxGapMs = 0;
    for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, times[i]! - times[i - 1]!);
    return {
      transmitted: Number(summary?.[1] ?? last),
      replies: this.#replied.size,
      lost,
      maxGapMs,
    };
  }
}

// ---- dockerd crash ----------------------------------------------------------------------------

/** Where test/services/docker.sh (or a system dockerd) keeps the pid; dockerd's own containerd. */
const DOCKERD_PID_FILES = ['/tmp/netns-agent-dockerd/dockerd.pid', '/var/run/docker.pid'];
const CONTAINERD_PID_FILE = '/var/run/docker/containerd/containerd.pid';

/** Alive and not a zombie (a killed daemon may wait a while to be reaped by PID 1). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function pidIn(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Kills dockerd with SIGKILL (a crash, not a stop: its containers keep running under their shims)
 * and waits until it is dead. Pid files of dockerd and of the containerd it runs are removed once
 * their processes are dead or zombies: the next dockerd would otherwise take a zombie for a running
 * daemon and refuse to start (or wait for a containerd that is gone).
 */
export async function killDockerd(timeoutMs = 20_000): Promise<void> {
  const file = DOCKERD_PID_FILES.find((f) => {
    const pid = pidIn(f);
    return pid !== undefined && running(pid);
  });
  if (!file) throw new Error('no running dockerd found by its pid file');
  const pid = pidIn(file)!;
  const containerd = pidIn(CONTAINERD_PID_FILE);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (running(pid)) {
    if (Date.now() > deadline) throw new Error(`dockerd ${pid} still runs after SIGKILL`);
    await sleep(20);
  }
  rmSync(file, { force: true });
  // dockerd's containerd dies with it (parent-death signal); a system containerd has no such file.
  const containerdDeadline = Date.now() + 3000;
  while (containerd !== undefined && running(containerd) && Date.now() < containerdDeadline) await sleep(20);
  if (containerd !== undefined && !running(containerd)) rmSync(CONTAINERD_PID_FILE, { force: true });
}
