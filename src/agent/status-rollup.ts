/**
 * What users see of a configuration item includes the items derived from it that they wrote
 * themselves: an interface is not "configured" while one of its addresses failed. The engine keeps
 * a status per derived item (the address is retried on its own); the API folds the failure of an
 * interface's address into the interface's status, naming the address. An address only ever waits
 * for its interface, so a pending one beside a configured interface is a moment of a transaction:
 * pending since before the interface was configured (or without a status yet: created in the same
 * transaction), it is about to be added (the interface is not configured yet for users); pending
 * since after, it goes first as the interface is being removed (the interface's status follows).
 */
import type { EngineView, ItemStatus as EngineStatus } from '../scheduler/index.js';
import { addressItem } from '../descriptors/fact-keys.js';

export interface DerivedPart {
  /** How the part is named in messages, e.g. "address 10.0.0.1/24". */
  label: string;
  status: EngineStatus | undefined;
}

/** The item's status, or, when it is configured but a part is not, the first failed (else added next) part's. */
export function rollUp(item: EngineStatus, parts: readonly DerivedPart[]): EngineStatus {
  if (item.state !== 'configured') return item;
  let next: DerivedPart | undefined;
  for (const part of parts) {
    const s = part.status;
    if (s?.state === 'failed') {
      const rolled: EngineStatus = {
        ...item,
        state: 'failed',
        updatedAt: Math.max(item.updatedAt, s.updatedAt),
      };
      // Named once: errors of addresses often name the address already.
      if (s.error) {
        const named =
          s.error.message.startsWith(`${part.label}:`) || s.error.message.startsWith(`${part.label} `);
        rolled.error = { ...s.error, message: named ? s.error.message : `${part.label}: ${s.error.message}` };
      }
      if (s.retries !== undefined) rolled.retries = s.retries;
      if (s.nextRetryAt !== undefined) rolled.nextRetryAt = s.nextRetryAt;
      return rolled;
    }
    // No status yet: its operation is still to come in the transaction that configured the item.
    const toCome = s === undefined || (s.state === 'pending' && (s.changeSeq ?? 0) < (item.changeSeq ?? 0));
    if (toCome && next === undefined) next = part;
  }
  if (next === undefined) return item;
  return { ...item, state: 'pending', reason: `${next.label} is being added` };
}

/** What `withAddresses` reads of the engine. */
export interface StatusSource {
  readonly state: EngineView;
  status(key: string): EngineStatus | undefined;
}

/** A config item's status as users see it: an interface's addresses folded in (see above). */
export function withAddresses(status: EngineStatus, engine: StatusSource): EngineStatus {
  if (status.state !== 'configured' || status.origin !== 'config') return status;
  const addresses = engine.state.value<{ ipAddresses?: readonly string[] }>(status.key)?.ipAddresses;
  if (!addresses?.length) return status;
  return rollUp(
    status,
    addresses.map((cidr) => ({
      label: `address ${cidr}`,
      status: engine.status(addressItem(status.key, cidr)),
    })),
  );
}

/**
 * A named namespace the agent made, kept because links that are not ours are still in it: its
 * removal waits for them (retried until they go), as README says. Shown as waiting, with why, not as
 * a failure (nor logged as one at each retry).
 */
export function keptNamespaceWaits(status: EngineStatus): EngineStatus {
  if (status.state !== 'failed' || status.error?.code !== 'ERR_NAMESPACE_IN_USE') return status;
  const waiting: EngineStatus = { ...status, state: 'pending', reason: status.error.message };
  delete waiting.error;
  delete waiting.retries;
  delete waiting.nextRetryAt;
  return waiting;
}

/** A config item's status as users see it (API, events, logs, counts). */
export function asUsersSee(status: EngineStatus, engine: StatusSource): EngineStatus {
  return keptNamespaceWaits(withAddresses(status, engine));
}
