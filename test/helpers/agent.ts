/**
 * End-to-end fixtures: bin/netns-agent as a child process (TCP or unix-socket API, optional token),
 * HTTP calls against it, bin/netnsctl as a child process, the seeds' VETH pair with the test's own
 * namespace names, `eventually()`, and a cleanup list that runs even when a test fails.
 */
import assert from 'node:assert/strict';
import { eventually as eventuallyKernel } from './kernel.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_DIR } from '../../src/agent/label-lock.js';
import { freePort } from './etcd.js';
import { ipJson, ipTry } from './kernel.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Copies of ../shared/examples (the users' files), kept in the repository so tests run anywhere. */
export const EXAMPLES_DIR = path.join(ROOT, 'test/data/examples');

const live = new Set<ChildProcess>();
/**
 * The state directory of agents on etcd (an agent on a store file keeps its state next to it):
 * never the machine's /var/lib/netns-agent. Removed at exit with what the agents wrote there (their
 * last valid values and namespaces: a passing run left one directory per test file in /tmp).
 */
export const TEST_STATE_DIR = path.join(tmpdir(), `netns-agent-test-state-${process.pid}`);
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  try {
    rmSync(TEST_STATE_DIR, { recursive: true, force: true });
  } catch {
    // a killed agent still writing there: left, rather than failing the run at its exit
  }
});

/** A short unique tag of hex digits (for labels, namespace names, ports are separate). */
export function tag(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

export interface AgentOptions {
  label: string;
  /** etcd endpoints; none: embedded store in `store`. */
  etcd?: string[];
  store?: string;
  /** `--state-dir`; default: next to `store`, else TEST_STATE_DIR. */
  stateDir?: string;
  /** HOST:PORT or unix:/path; default 127.0.0.1:<free port>. */
  http?: string;
  token?: string;
  logLevel?: string;
  /** Watch Docker (default: `--no-docker`). */
  docker?: boolean;
  /** `--status-interval`: how often interface state is written to the datastore. */
  statusIntervalMs?: number;
  /**
   * Extra node flags (e.g. `--cpu-prof`): node then runs bin/netns-agent.mjs with the flags
   * bin/netns-agent gives it, followed by these.
   */
  nodeFlags?: string[];
  /**
   * When start() returns: once the agent logged "started" (its first full read applied; the
   * default), or as soon as the API answers (a resync may still run; benchmarks time it).
   */
  ready?: 'started' | 'listening';
  /** Extra environment variables for the agent process. */
  env?: Record<string, string>;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export class AgentProcess {
  readonly log: string[] = [];
  #exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly options: AgentOptions,
    readonly listen: string,
  ) {
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** The http:// base URL (TCP listeners only). */
  get server(): string {
    return `http://${this.listen}`;
  }

  get socketPath(): string | undefined {
    return this.listen.startsWith('unix:') ? this.listen.slice(5) : undefined;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  static async start(options: AgentOptions): Promise<AgentProcess> {
    const listen = options.http ?? `127.0.0.1:${await freePort()}`;
    const args = [
      '--label',
      options.label,
      '--http',
      listen,
      ...(options.docker ? [] : ['--no-docker']),
      '--log-level',
      options.logLevel ?? 'info',
    ];
    if (options.etcd) args.push('--etcd', options.etcd.join(','));
    if (options.store) args.push('--store', options.store);
    if (options.stateDir || !options.store) args.push('--state-dir', options.stateDir ?? TEST_STATE_DIR);
    if (options.token) args.push('--http-token', options.token);
    if (options.statusIntervalMs) args.push('--status-interval', String(options.statusIntervalMs));
    const entry = path.join(ROOT, 'bin/netns-agent');
    const nodeFlags = options.nodeFlags ?? [];
    const launcherFlags = nodeFlags.length ? agentNodeFlags() : [];
    const spawnOptions = {
      stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    };
    const child = nodeFlags.length
      ? spawn(process.execPath, [...launcherFlags, ...nodeFlags, `${entry}.mjs`, ...args], spawnOptions)
      : spawn(entry, args, spawnOptions);
    live.add(child);
    child.once('exit', () => live.delete(child));
    const agent = new AgentProcess(child, options, listen);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => agent.log.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => agent.log.push(d));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!agent.running) throw new Error(`agent exited (${child.exitCode}): ${agent.logText()}`);
      if (options.ready === 'listening' || agent.log.join('').includes('"msg":"started"')) {
        try {
          // /v1/about is cheap: the agent may be busy with a resync.
          const r = await agent.request('GET', options.ready === 'listening' ? '/v1/about' : '/v1/status');
          if (r.status === 200 || r.status === 401) break;
        } catch {
          // not listening yet
        }
      }
      if (Date.now() > deadline) {
        await agent.stop('SIGKILL');
        throw new Error(`agent did not start: ${agent.logText()}`);
      }
      await sleep(50);
    }
    return agent;
  }

  /** The datastore's state as /v1/about shows it (e.g. 'in-sync'). */
  async datastoreState(): Promise<string | undefined> {
    return (await this.json<{ datastore?: { state?: string } }>('GET', '/v1/about')).datastore?.state;
  }

  /**
   * Starts an agent its datastore is to refuse (a certificate not trusted, a wrong password): after
   * two seconds it is still not in sync, and its log says why (`why`).
   */
  static async expectRefused(options: AgentOptions, why: RegExp): Promise<void> {
    const agent = await AgentProcess.start({ ...options, ready: 'listening' });
    try {
      await sleep(2000);
      assert.notEqual(await agent.datastoreState(), 'in-sync');
      assert.match(agent.logText(), why);
    } finally {
      await agent.stop();
    }
  }

  /**
   * Puts through bin/netnsctl (with `netnsctlArgs`, e.g. `--etcd URL`) a DUMMY in a microservice's
   * namespace: without Docker the agent keeps it pending and the kernel is not touched. Resolves
   * when the agent shows it pending; returns its key.
   */
  async putPendingThroughNetnsctl(
    name: string,
    netnsctlArgs: string[],
    env?: NodeJS.ProcessEnv,
  ): Promise<string> {
    const key = configKey(this.options.label, 'interface', name);
    const value = { name, type: 'DUMMY', namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' } };
    const put = spawnSync(path.join(ROOT, 'bin/netnsctl'), [...netnsctlArgs, 'put', key, '-'], {
      input: JSON.stringify(value),
      encoding: 'utf8',
      ...(env ? { env } : {}),
    });
    assert.equal(put.status, 0, put.stderr);
    await eventually(async () => assert.equal((await this.stateOf(key))?.state, 'pending'));
    return key;
  }

  logText(): string {
    return this.log.join('').slice(-6000);
  }

  /** One HTTP request to the agent (TCP or unix socket); `token` overrides the agent's token, null: none. */
  request(method: string, urlPath: string, body?: string, token?: string | null): Promise<HttpResult> {
    const bearer = token === undefined ? this.options.token : (token ?? undefined);
    const socketPath = this.socketPath;
    const [host, port] = socketPath
      ? ['localhost', undefined]
      : [
          this.listen.slice(0, this.listen.lastIndexOf(':')),
          this.listen.slice(this.listen.lastIndexOf(':') + 1),
        ];
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method,
          path: urlPath,
          ...(socketPath ? { socketPath } : { host, port: Number(port) }),
          headers: {
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            ...(body !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
              : {}),
          },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let json: unknown = undefined;
            try {
              json = text ? (JSON.parse(text) as unknown) : undefined;
            } catch {
              // not JSON
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  async json<T = unknown>(method: string, urlPath: string, body?: string): Promise<T> {
    const r = await this.request(method, urlPath, body);
    if (r.status >= 400) throw new Error(`${method} ${urlPath}: HTTP ${r.status} ${r.text}`);
    return r.json as T;
  }

  async status(): Promise<StatusRow[]> {
    return this.json<StatusRow[]>('GET', '/v1/status');
  }

  async stateOf(key: string): Promise<StatusRow | undefined> {
    const r = await this.request('GET', `/v1/status${key}`);
    return r.status === 200 ? (r.json as StatusRow) : undefined;
  }

  /** Waits until every key has the state. */
  async until(keys: string[], state: string, timeoutMs = 15_000): Promise<void> {
    await eventually(async () => {
      const rows = new Map((await this.status()).map((r) => [r.key, r]));
      const wrong = keys.filter((k) => rows.get(k)?.state !== state);
      if (wrong.length) {
        const row = rows.get(wrong[0]!);
        throw new Error(
          `${wrong[0]} is ${row?.state ?? 'unknown'} (${row?.reason ?? row?.error ?? ''}), not ${state}`,
        );
      }
    }, timeoutMs);
  }

  async history(): Promise<Transaction[]> {
    return this.json<Transaction[]>('GET', '/v1/history');
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 8000);
    return this.#exited.finally(() => {
      clearTimeout(timer);
      // An agent killed leaves its label's lock file (the next agent takes it): a test's goes
      // with it, the machine as it was. One stopped removes its own.
      if (this.child.signalCode === 'SIGKILL')
        rmSync(path.join(LOCK_DIR, `${encodeURIComponent(this.options.label)}.lock`), { force: true });
    });
  }
}

export interface StatusRow {
  key: string;
  state: string;
  reason?: string;
  error?: string;
  fieldErrors?: { key?: string; field: string; message: string }[];
  updatedAt: string;
  interface?: { ifindex: number; name: string; hostIfName: string; namespace: string; mtu: number };
}

export interface Transaction {
  seq: number;
  causes: string[];
  counts: { create: number; update: number; delete: number; failed: number; planned: number };
  operations: {
    kind: string;
    key: string;
    descriptor: string;
    outcome: string;
    why?: string;
    error?: { message: string };
  }[];
}

/**
 * Operations of these transactions that wrote (or tried to write) to the kernel: every operation done
 * or failed, but VETH end markers and named namespaces that already exist, which write nothing.
 */
export function kernelWriteOps(transactions: Transaction[]): Transaction['operations'] {
  return transactions.flatMap((t) =>
    t.operations.filter(
      (op) => op.outcome !== 'skipped' && op.descriptor !== 'veth-end' && op.descriptor !== 'named-namespace',
    ),
  );
}

export function kernelWrites(transactions: Transaction[]): number {
  return kernelWriteOps(transactions).length;
}

/** `eventually` of the kernel helpers, with the longer defaults an agent process needs. */
/** The node flags bin/netns-agent starts the daemon with (its NODE_FLAGS line). */
export function agentNodeFlags(): string[] {
  const launcher = readFileSync(path.join(ROOT, 'bin/netns-agent'), 'utf8');
  const line = /^NODE_FLAGS='([^']*)'$/m.exec(launcher);
  if (!line) throw new Error('bin/netns-agent has no NODE_FLAGS line');
  return line[1]!.split(' ').filter((word) => word.startsWith('--'));
}

export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  return eventuallyKernel(check, timeoutMs, intervalMs);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs bin/netnsctl with ARGS (and optional standard input) to its end. */
export function netnsctl(args: string[], input?: string, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'bin/netnsctl'), args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NETNS_AGENT_SERVER: '',
        NETNS_AGENT_TOKEN: '',
        NETNS_AGENT_ETCD: '',
        NETNS_AGENT_STORE: '',
      },
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Starts bin/netnsctl and leaves it running (for `watch`); the caller kills it. */
export function netnsctlSpawn(args: string[]): ChildProcess {
  const child = spawn(path.join(ROOT, 'bin/netnsctl'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export const configKey = (label: string, kind: 'interface' | 'route' | 'arp', name: string): string =>
  `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`;

/** A seed example (test/data/examples/NAME.json) with its namespace name replaced. */
export function seedExample(
  name: 'veth1' | 'veth2' | 'linux-tap',
  namespace: string,
): Record<string, unknown> {
  const value = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
  value.namespace = { ...(value.namespace as object), name: namespace };
  return value;
}

/** The seeds' VETH pair under a label, in two namespaces of the test's own. */
export interface SeedPair {
  ns1: string;
  ns2: string;
  key1: string;
  key2: string;
  veth1: Record<string, unknown>;
  veth2: Record<string, unknown>;
}

export function seedPair(label: string, prefix = 'e2e'): SeedPair {
  const t = tag(4);
  const ns1 = `${prefix}${t}a`;
  const ns2 = `${prefix}${t}b`;
  return {
    ns1,
    ns2,
    key1: configKey(label, 'interface', 'veth1'),
    key2: configKey(label, 'interface', 'veth2'),
    veth1: seedExample('veth1', ns1),
    veth2: seedExample('veth2', ns2),
  };
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  operstate: string;
  flags: string[];
  address: string;
  ifalias?: string;
  link_netnsid?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * `ip [-n NS] -json addr show dev NAME` (null: the default namespace), or undefined when there is no
 * such link (or namespace).
 */
export function ipLink(ns: string | null, name: string): IpLink | undefined {
  if (ns !== null && !existsSync(`/var/run/netns/${ns}`)) return undefined;
  const r = ipTry(ns, ['-json', 'addr', 'show', 'dev', name]);
  if (r.status !== 0) return undefined;
  const link = (JSON.parse(r.stdout || '[]') as IpLink[])[0];
  if (!link) return undefined;
  const details = ipTry(ns, ['-json', 'link', 'show', 'dev', name]);
  const alias =
    details.status === 0 ? (JSON.parse(details.stdout || '[]') as IpLink[])[0]?.ifalias : undefined;
  return alias === undefined ? link : { ...link, ifalias: alias };
}

/** Every link of a namespace (ip -json link). */
export function ipLinks(ns: string): IpLink[] {
  return ipJson<IpLink[]>(ns, ['link', 'show']);
}

/** Asserts-free check that the seed pair is configured as the seeds say; throws what differs. */
export function checkSeedPair(pair: SeedPair): { ifindex1: number; ifindex2: number } {
  const l1 = ipLink(pair.ns1, 'veth1Name');
  const l2 = ipLink(pair.ns2, 'veth2Name');
  if (!l1) throw new Error(`no veth1Name in ${pair.ns1}`);
  if (!l2) throw new Error(`no veth2Name in ${pair.ns2}`);
  const want = (link: IpLink, mac: string, addrs: string[]) => {
    if (link.address !== mac) throw new Error(`${link.ifname}: MAC ${link.address}, want ${mac}`);
    if (link.mtu !== 1500) throw new Error(`${link.ifname}: MTU ${link.mtu}`);
    if (!link.flags.includes('UP')) throw new Error(`${link.ifname}: not up (${link.flags.join(',')})`);
    const have = (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
    for (const a of addrs)
      if (!have.includes(a)) throw new Error(`${link.ifname}: no ${a} (has ${have.join(' ')})`);
  };
  want(l1, 'd2:74:8c:12:67:d2', ['192.168.22.1/24', '2001:db8::ff00:89e3:bb42/48']);
  want(l2, '92:c7:42:67:ab:cd', ['192.168.22.2/24', '2001:842::ff00:13c7:1245/48']);
  return { ifindex1: l1.ifindex, ifindex2: l2.ifindex };
}

export interface SseEvent {
  type: string;
  data: Record<string, unknown>;
}

/**
 * Follows /v1/events of a TCP agent and collects every event; `status` resolves with the HTTP status
 * once the stream is open.
 */
export function followEvents(
  agent: AgentProcess,
  token?: string,
): { events: SseEvent[]; status: Promise<number>; close(): void } {
  const events: SseEvent[] = [];
  const url = new URL(agent.server);
  let request: http.ClientRequest | undefined;
  const status = new Promise<number>((resolve, reject) => {
    request = http.get(
      {
        host: url.hostname,
        port: Number(url.port),
        path: '/v1/events',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
          }
        });
        res.on('error', () => undefined);
      },
    );
    request.on('error', (error) => (events.length ? undefined : reject(error)));
  });
  return { events, status, close: () => request?.destroy() };
}

/** One end of a VETH pair as a test expects it: its namespace, host name and IPv4 address. */
export interface ExpectedEnd {
  ns: string;
  name: string;
  address: string;
}

/** Asserts both ends exist, are up, have the MTU and their address; returns their ifindexes. */
export function checkVethEnds(a: ExpectedEnd, b: ExpectedEnd, mtu: number): [IpLink, IpLink] {
  const links = [a, b].map((end) => {
    const link = ipLink(end.ns, end.name);
    if (!link) throw new Error(`no ${end.name} in ${end.ns}`);
    if (!link.flags.includes('UP')) throw new Error(`${end.name}: not up (${link.flags.join(',')})`);
    if (!(link.addr_info ?? []).some((x) => x.local === end.address))
      throw new Error(`${end.name}: no address ${end.address}`);
    return link;
  }) as [IpLink, IpLink];
  if (links[0].mtu !== mtu) throw new Error(`${a.name}: MTU ${links[0].mtu}, want ${mtu}`);
  return links;
}

/** Removes named namespaces (ignoring those already gone). */
export function deleteNamespaces(...names: string[]): void {
  for (const name of names) if (existsSync(`/var/run/netns/${name}`)) ipTry(null, ['netns', 'del', name]);
}

/** Things to undo at the end of a test, last registered first; every step runs even if one throws. */
export class Cleanup {
  readonly #steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.#steps.length) {
      const step = this.#steps.pop()!;
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length) throw errors[0];
  }
}
