/**
 * Compaction of the change log: it only needs to cover what a live watcher may not have read yet
 * (a few polling intervals), so old entries go. A watcher that falls behind the compacted revision
 * resyncs from a full read instead. The newest revision is always kept.
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface CompactionLimits {
  /** Keep the log of at least this many recent revisions... */
  retainRevisions: number;
  /** ...unless that is more rows than this; then drop whole revisions, oldest first. */
  maxRows: number;
}

/**
 * The revision up to which the log may go (inclusive; 0: nothing). `newestDroppedByRows` is the
 * revision of the newest row beyond the `maxRows` newest ones, if there are that many. Pure.
 */
export function compactionCut(
  currentRevision: number,
  limits: CompactionLimits,
  newestDroppedByRows: number | undefined,
): number {
  const byRevisions = currentRevision - Math.max(1, limits.retainRevisions);
  const byRows = newestDroppedByRows ?? 0;
  return Math.max(0, Math.min(currentRevision - 1, Math.max(byRevisions, byRows)));
}

/** Removes old log entries in one write transaction; returns the compacted revision. */
export function compact(db: BetterSqlite3.Database, limits: CompactionLimits): number {
  const meta = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?');
  const beyondRowLimit = db.prepare<[number], { revision: number }>(
    'SELECT revision FROM changes ORDER BY revision DESC LIMIT 1 OFFSET ?',
  );
  const remove = db.prepare<[number]>('DELETE FROM changes WHERE revision <= ?');
  const setCompacted = db.prepare<[number]>("UPDATE meta SET value = max(value, ?) WHERE name = 'compacted'");
  return db
    .transaction(() => {
      const revision = meta.get('revision')?.value ?? 0;
      const compacted = meta.get('compacted')?.value ?? 0;
      const cut = compactionCut(revision, limits, beyondRowLimit.get(limits.maxRows)?.revision);
      if (cut <= compacted) return compacted;
      remove.run(cut);
      setCompacted.run(cut);
      return cut;
    })
    .immediate();
}
