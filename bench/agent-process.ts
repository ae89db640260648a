/** Runs bin/netns-agent as a child process for benchmarks and end-to-end tests, and follows its events. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AgentProcess {
  child: ChildProcess;
  server: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMb(): number;
  log: string[];
}

export async function startAgent(args: string[], port: number): Promise<AgentProcess> {
  const log: string[] = [];
  // AGENT_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") runs the agent under node with them.
  // With them, node runs bin/netns-agent itself, and the flags of its first line come first.
  const extraFlags = process.env.AGENT_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const shebang = readFileSync(path.join(ROOT, 'bin/netns-agent'), 'utf8').split('\n')[0]!;
  const nodeFlags = extraFlags.length
    ? [...shebang.split(' ').filter((word) => word.startsWith('--')), ...extraFlags]
    : [];
  const agentArgs = [
    ...args,
    '--http',
    `127.0.0.1:${port}`,
    '--no-docker',
    '--log-level',
    process.env.AGENT_LOG_LEVEL ?? 'warn',
  ];
  const child = spawn(
    nodeFlags.length ? process.execPath : path.join(ROOT, 'bin/netns-agent'),
    nodeFlags.length ? [...nodeFlags, path.join(ROOT, 'bin/netns-agent'), ...agentArgs] : agentArgs,
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const server = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const response = await fetch(`${server}/v1/about`); // cheap: the agent may be busy with a resync
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`agent exited: ${log.join('')}`);
    if (Date.now() > deadline) throw new Error(`agent did not start: ${log.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    server,
    log,
    peakRssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kb / 102.4) / 10;
    },
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/** Follows /v1/events and keeps the latest state of every key. */
export class StateFollower {
  readonly states = new Map<string, string>();
  private readonly controller = new AbortController();
  private waiters: (() => void)[] = [];

  constructor(server: string) {
    void this.run(server);
  }

  private async run(server: string): Promise<void> {
    try {
      const response = await fetch(`${server}/v1/events`, { signal: this.controller.signal });
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.startsWith('event: state')) continue;
          const data = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { key: string; state: string };
          this.states.set(data.key, data.state);
        }
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      }
    } catch {
      // aborted
    }
  }

  /** Resolves when every key is in the state (or rejects after the timeout). */
  async until(keys: string[], state: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!keys.every((k) => this.states.get(k) === state)) {
      if (Date.now() > deadline) {
        const missing = keys.filter((k) => this.states.get(k) !== state);
        throw new Error(
          `${missing.length} keys not ${state}, e.g. ${missing[0]}: ${this.states.get(missing[0]!)}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.controller.abort();
  }
}
