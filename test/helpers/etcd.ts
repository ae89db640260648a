/**
 * Throwaway etcd processes for tests: a single member or a 3-member cluster on 127.0.0.1, each
 * with a temporary --data-dir and free ports. Members can be stopped, killed, paused and
 * restarted (same data, same ports), one by one or all together (stopAll/startAll). `cluster.destroy()` (call it in an after-hook) kills every
 * process and removes the directories; a process-exit hook kills leftovers if a test crashed.
 * Also a TCP proxy that can cut every connection, to simulate a network loss towards etcd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  #args: string[] = [];
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = '';

  constructor(name: string, clientPort: number, peerPort: number, dataDir: string) {
    this.name = name;
    this.clientUrl = `http://${HOST}:${clientPort}`;
    this.peerUrl = `http://${HOST}:${peerPort}`;
    this.dataDir = dataDir;
  }

  configure(initialCluster: string, token: string, extraArgs: string[] = []): void {
    this.#args = [
      ...extraArgs,
      '--name',
      this.name,
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      this.clientUrl,
      '--advertise-client-urls',
      this.clientUrl,
      '--listen-peer-urls',
      this.peerUrl,
      '--initial-advertise-peer-urls',
      this.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      token,
      // Short, for quick fail-overs, but not so short that CPU steal alone starts elections.
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--logger',
      'zap',
      '--log-level',
      'error',
    ];
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** Starts the process (again, with the same data and ports). Does not wait for health. */
  start(): void {
    if (this.#process) return;
    const child = spawn('etcd', this.#args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#log = (this.#log + chunk).slice(-4000);
    });
    this.#process = child;
    this.#exited = new Promise((resolve) =>
      child.on('exit', () => {
        live.delete(child);
        if (this.#process === child) this.#process = undefined;
        resolve();
      }),
    );
  }

  /** SIGTERM (graceful) or SIGKILL (crash); resolves once the process is gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.#process;
    if (!child) return;
    child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  pause(): void {
    this.#process?.kill('SIGSTOP');
  }

  resume(): void {
    this.#process?.kill('SIGCONT');
  }

  /** True when the member answers /health with a leader. */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  get log(): string {
    return this.#log;
  }
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly #root: string;

  constructor(members: EtcdMember[], root: string) {
    this.members = members;
    this.#root = root;
  }

  /** Client URLs of every member, for the store's `endpoints`. */
  get endpoints(): string[] {
    return this.members.map((member) => member.clientUrl);
  }

  member(index: number): EtcdMember {
    const member = this.members[index];
    if (!member) throw new Error(`no member ${index}`);
    return member;
  }

  /** Waits until every running member is healthy (has a leader). */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((member) => member.running);
      const health = await Promise.all(running.map((member) => member.healthy()));
      if (health.every(Boolean)) return;
      if (Date.now() > deadline) {
        const logs = running.map((member) => `${member.name}: ${member.log}`).join('\n');
        throw new Error(`etcd did not become healthy within ${timeoutMs} ms\n${logs}`);
      }
      await sleep(100);
    }
  }

  /** Stops every running member (SIGKILL: a crash of the whole cluster); data stays for startAll(). */
  async stopAll(signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL'): Promise<void> {
    await Promise.all(this.members.map((member) => member.stop(signal)));
  }

  /** Starts every stopped member again, same ports and data; resolves once all are healthy. */
  async startAll(timeoutMs = 20_000): Promise<void> {
    for (const member of this.members) member.start();
    await this.waitHealthy(timeoutMs);
  }

  /** Kills every member and removes the data directories; idempotent. */
  async destroy(): Promise<void> {
    await Promise.all(this.members.map((member) => member.stop('SIGKILL')));
    rmSync(this.#root, { recursive: true, force: true });
  }
}

/**
 * Starts a fresh cluster of `size` members (1 or 3) and waits until it is healthy; `extraArgs` go
 * to every member (e.g. `--auth-token-ttl`).
 */
export async function startEtcd(size = 1, extraArgs: string[] = []): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'netns-agent-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    members.push(new EtcdMember(`m${i}`, await freePort(), await freePort(), join(root, `m${i}`)));
  }
  const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(',');
  const token = `netns-agent-test-${randomBytes(4).toString('hex')}`;
  const cluster = new EtcdCluster(members, root);
  try {
    for (const member of members) {
      member.configure(initialCluster, token, extraArgs);
      member.start();
    }
    await cluster.waitHealthy();
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return cluster;
}

/**
 * A TCP proxy on 127.0.0.1 in front of one address. `cut()` drops every connection and refuses new
 * ones (as a network loss would); `restore()` lets them through again.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: HOST, port: targetPort });
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(targetUrl: string): Promise<TcpProxy> {
    const proxy = new TcpProxy(Number(new URL(targetUrl).port));
    await new Promise<void>((resolve) => proxy.#server.listen(0, HOST, resolve));
    const address = proxy.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
