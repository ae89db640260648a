/**
 * bin/netns-agent as a child process for benchmarks (the end-to-end tests' fixture, test/helpers/agent.ts),
 * and a follower of its events.
 */
import { readFileSync } from 'node:fs';
import { AgentProcess } from '../test/helpers/agent.js';

export type { AgentProcess };

/**
 * The agent on the embedded store `storeFile`, its API on `port`, Docker not watched; returns as
 * soon as the API answers (a resync may still run). From the environment: AGENT_NODE_FLAGS (e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof") runs it under node with those flags; AGENT_LOG_LEVEL
 * (default warn: the log would load the agent it measures).
 */
export function startAgent(label: string, storeFile: string, port: number): Promise<AgentProcess> {
  return AgentProcess.start({
    label,
    store: storeFile,
    http: `127.0.0.1:${port}`,
    logLevel: process.env.AGENT_LOG_LEVEL ?? 'warn',
    nodeFlags: process.env.AGENT_NODE_FLAGS?.split(' ').filter(Boolean) ?? [],
    ready: 'listening',
  });
}

/** Peak resident set size of the agent so far (VmHWM), in MiB. */
export function peakRssMb(agent: AgentProcess): number {
  const status = readFileSync(`/proc/${agent.child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
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
