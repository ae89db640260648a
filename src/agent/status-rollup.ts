/**
 * What users see of a configuration item includes the items derived from it that they wrote
 * themselves: an interface is not "configured" while one of its addresses failed or waits. The
 * engine keeps a status per derived item (the address is retried on its own); the API folds the
 * problems of an interface's addresses into the interface's status, naming the address.
 */
import type { ItemStatus as EngineStatus } from '../scheduler/index.js';

export interface DerivedPart {
  /** How the part is named in messages, e.g. "address 10.0.0.1/24". */
  label: string;
  status: EngineStatus | undefined;
}

/** The item's status, or, when it is configured but a part is not, the first failed (else pending) part's. */
export function rollUp(item: EngineStatus, parts: readonly DerivedPart[]): EngineStatus {
  if (item.state !== 'configured' || parts.length === 0) return item;
  let pending: DerivedPart | undefined;
  for (const part of parts) {
    const s = part.status;
    if (s?.state === 'failed') {
      const rolled: EngineStatus = {
        ...item,
        state: 'failed',
        updatedAt: Math.max(item.updatedAt, s.updatedAt),
      };
      if (s.error) rolled.error = { ...s.error, message: `${part.label}: ${s.error.message}` };
      if (s.retries !== undefined) rolled.retries = s.retries;
      if (s.nextRetryAt !== undefined) rolled.nextRetryAt = s.nextRetryAt;
      return rolled;
    }
    if (s?.state === 'pending' && pending === undefined) pending = part;
  }
  if (pending === undefined) return item;
  const s = pending.status!;
  return {
    ...item,
    state: 'pending',
    reason: `${pending.label}: ${s.reason ?? 'pending'}`,
    updatedAt: Math.max(item.updatedAt, s.updatedAt),
  };
}
