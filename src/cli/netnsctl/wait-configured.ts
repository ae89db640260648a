/**
 * `apply --wait`: after the puts are stored, wait until the agent has taken them in (its summary's
 * datastore revision reaches the puts' revisions, so a state from before them does not count) and
 * every item is configured, or the time is up. A pending item may still become configured (its
 * peer may come), so nothing but the deadline ends the wait early.
 */
import { CliError, type ApiClient } from './client.js';
import { statusWhy } from './tables.js';

export interface WaitOutcome {
  /** Whether the agent had taken in every put by the end (else the states below may be older). */
  takenIn: boolean;
  configured: string[];
  notConfigured: { key: string; state: string; why: string }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitConfigured(
  client: ApiClient,
  keys: readonly string[],
  revision: number | undefined,
  timeoutMs: number,
): Promise<WaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  let takenIn = revision === undefined;
  for (;;) {
    if (!takenIn) {
      const summary = (await client.expectOk('GET', '/v1/status?summary')) as {
        datastore?: { revision?: number };
      };
      takenIn = (summary.datastore?.revision ?? 0) >= (revision ?? 0);
    }
    let outcome: WaitOutcome | undefined;
    if (takenIn) {
      const statuses = (await client.expectOk('GET', '/v1/status')) as Record<string, unknown>[];
      const byKey = new Map(statuses.map((s) => [String(s.key), s]));
      outcome = { takenIn, configured: [], notConfigured: [] };
      for (const key of keys) {
        const status = byKey.get(key);
        const state = typeof status?.state === 'string' ? status.state : 'unknown';
        if (state === 'configured') outcome.configured.push(key);
        else outcome.notConfigured.push({ key, state, why: status ? statusWhy(status) : 'no status yet' });
      }
      // Done; or nothing left that can become configured without another put (invalid values).
      if (outcome.notConfigured.every((n) => n.state === 'invalid')) return outcome;
    }
    if (Date.now() >= deadline)
      return (
        outcome ?? {
          takenIn,
          configured: [],
          notConfigured: keys.map((key) => ({ key, state: 'unknown', why: 'not taken in by the agent yet' })),
        }
      );
    // The whole status list is read each time: less often for a large file (it costs the agent).
    await sleep(Math.min(keys.length > 100 ? 500 : 200, Math.max(0, deadline - Date.now())));
  }
}

/**
 * `--wait` and `--wait-timeout SECONDS` (which implies --wait; 30 s by default) in milliseconds;
 * undefined when not asked. A flag and an option of its own, not `--wait [seconds]`: that would
 * take the next word (`put --wait interface/x f.json`) for its seconds.
 */
export function waitOption(wait: boolean | undefined, timeout: string | undefined): number | undefined {
  if (!wait && timeout === undefined) return undefined;
  if (timeout === undefined) return 30_000;
  const seconds = Number(timeout);
  if (!/^\d+(\.\d+)?$/.test(timeout) || !(seconds > 0) || seconds > 86_400)
    throw new CliError(`--wait-timeout ${timeout}: expected seconds, more than 0 and at most 86400`, 2);
  return seconds * 1000;
}
