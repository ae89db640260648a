/**
 * `apply --wait`: after the puts are stored, wait until the agent has taken them in (its summary's
 * datastore revision reaches the puts' revisions, so a state from before them does not count) and
 * every item is configured, or the time is up. A pending item may still become configured (its
 * peer may come); the wait ends early only when what is left cannot change without another put:
 * invalid values, failures with no retry planned, VETH ends waiting for such a peer or for a peer
 * that names another end, routes and ARP entries waiting for such an interface item.
 */
import { CliError, type ApiClient } from './client.js';
import { statusWhy } from './tables.js';
import { configKey, parseConfigKey } from '../../model/keys.js';

export interface WaitOutcome {
  /** Whether the agent had taken in every put by the end (else the states below may be older). */
  takenIn: boolean;
  configured: string[];
  notConfigured: { key: string; state: string; why: string }[];
  /** Ended before the time was up: those not configured cannot change without another put. */
  failedForGood?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The keys whose value the agent's store does not hold as it was put. */
async function notInAgentStore(
  client: ApiClient,
  values: ReadonlyMap<string, string>,
): Promise<WaitOutcome['notConfigured']> {
  const prefix = commonPrefix([...values.keys()]);
  const held = (await client.expectOk('GET', `/v1/config?prefix=${encodeURIComponent(prefix)}`)) as {
    key: string;
    value: unknown;
  }[];
  const heldByKey = new Map(held.map((entry) => [entry.key, JSON.stringify(entry.value)]));
  const missing: WaitOutcome['notConfigured'] = [];
  for (const [key, text] of values) {
    let put: string;
    try {
      put = JSON.stringify(JSON.parse(text));
    } catch {
      put = text;
    }
    if (heldByKey.get(key) !== put)
      missing.push({
        key,
        state: "not in the agent's store",
        why: "the agent's store does not hold this value: was it put into another store than the agent's?",
      });
  }
  return missing;
}

function commonPrefix(keys: string[]): string {
  let prefix = keys[0] ?? '';
  for (const key of keys)
    while (!key.startsWith(prefix)) prefix = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
  return prefix;
}

/** The pending reasons of a VETH end (src/agent/service.ts says them). */
const PEER_WAIT = /^waiting for VETH peer (\S+) to be configured/;
const PEER_NAMES_ANOTHER = /names \S+ as its peer, not /;
/** A PID_REF_NS whose process exited (src/netns/errors.ts): another process never stands for it. */
const PROCESS_EXITED = /the process first seen as pid \d+ has exited/;
/** The pending reasons of a route or ARP entry waiting for its interface (descriptors/interface.ts, route.ts). */
const INTERFACE_WAIT =
  /^waiting for (?:interface (\S+) to (?:exist|be up|be configured)|gateway \S+ to be reachable through (\S+))/;

/** How long items failed with no retry planned stay so before --wait stops waiting for them. */
const FAILED_FOR_GOOD_MS = 2000;

export async function waitConfigured(
  client: ApiClient,
  keys: readonly string[],
  revision: number | undefined,
  timeoutMs: number,
  /**
   * The values put, when they were put around the agent (--store, --etcd): its store must hold them,
   * or they went to another store than the agent's, whose revisions say nothing of its own.
   */
  putAround?: ReadonlyMap<string, string>,
): Promise<WaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  await checkServedLabel(client, keys);
  let takenIn = revision === undefined;
  /** Since when every item not configured is invalid, or failed with no retry planned. */
  let finalSince: number | undefined;
  for (;;) {
    if (!takenIn) {
      const summary = (await client.expectOk('GET', '/v1/status?summary')) as {
        datastore?: { revision?: number };
      };
      takenIn = (summary.datastore?.revision ?? 0) >= (revision ?? 0);
      if (takenIn && putAround !== undefined) {
        const elsewhere = await notInAgentStore(client, putAround);
        if (elsewhere.length > 0) return { takenIn: false, configured: [], notConfigured: elsewhere };
      }
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
      // Failed with no retry planned (the kernel refused for good, e.g. EOPNOTSUPP): for a while
      // (an event may still have them tried again, e.g. a host name freed), then that is the outcome.
      const stuck = (key: string): boolean => {
        const status = byKey.get(key);
        return (
          status?.state === 'invalid' || (status?.state === 'failed' && status.nextRetryAt === undefined)
        );
      };
      // Waiting for an item that is stuck so, or cannot be configured itself without another put:
      // a VETH end for such a peer (or one that names another end as its peer), a route or an ARP
      // entry for such an interface item.
      const waitsInVain = (key: string, seen: Set<string>): boolean => {
        if (stuck(key)) return true;
        const status = byKey.get(key);
        if (status?.state !== 'pending' || seen.has(key)) return false;
        seen.add(key);
        const why = statusWhy(status);
        if (PEER_NAMES_ANOTHER.test(why) || PROCESS_EXITED.test(why)) return true;
        const parsed = parseConfigKey(key);
        const peer = PEER_WAIT.exec(why)?.[1];
        if (peer !== undefined) return waitsInVain(key.slice(0, key.lastIndexOf('/') + 1) + peer, seen);
        // An interface item of that name in another namespace is not what it waits for: a link of
        // that name may still appear where the route is.
        if (why.includes('(the interface item ')) return false;
        const wait = INTERFACE_WAIT.exec(why);
        const name = wait?.[1] ?? wait?.[2];
        // An interface named by its host name (no item of that name) may still appear.
        return (
          name !== undefined &&
          parsed !== undefined &&
          waitsInVain(configKey(parsed.label, 'interface', name), seen)
        );
      };
      const final = outcome.notConfigured.every((n) => waitsInVain(n.key, new Set()));
      if (!final) finalSince = undefined;
      else if (finalSince === undefined) finalSince = Date.now();
      else if (Date.now() - finalSince >= FAILED_FOR_GOOD_MS) return { ...outcome, failedForGood: true };
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
/**
 * The agent asked must be the one of the keys' label: another never takes them in, and the wait
 * would last its whole time and end with "not taken in by the agent yet". Its answer also tells
 * whether there is an agent at all: the values are stored already (with --etcd or --store), which
 * the message says.
 */
async function checkServedLabel(client: ApiClient, keys: readonly string[]): Promise<void> {
  let about: { label?: unknown };
  try {
    about = (await client.expectOk('GET', '/v1/about')) as { label?: unknown };
  } catch (error) {
    if (error instanceof CliError && error.exitCode === 3)
      throw new CliError(`stored, but cannot wait for the agent: ${error.message}`, 3, error.details);
    return; // an agent that does not say (a refusal is met again by the wait itself)
  }
  const labels = new Set(keys.map((key) => parseConfigKey(key)?.label).filter((l) => l !== undefined));
  const served = about.label;
  if (typeof served !== 'string' || labels.size === 0 || labels.has(served)) return;
  throw new CliError(
    `stored, but cannot wait: the agent at ${client.server} serves the label ${served}, not ${[...labels].join(', ')}; give --server of that label's agent`,
    2,
  );
}

export function waitOption(wait: boolean | undefined, timeout: string | undefined): number | undefined {
  if (!wait && timeout === undefined) return undefined;
  if (timeout === undefined) return 30_000;
  const seconds = Number(timeout);
  if (!/^\d+(\.\d+)?$/.test(timeout) || !(seconds > 0) || seconds > 86_400)
    throw new CliError(`--wait-timeout ${timeout}: expected seconds, more than 0 and at most 86400`, 2);
  return seconds * 1000;
}
