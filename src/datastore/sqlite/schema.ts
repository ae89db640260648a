/**
 * The embedded store's tables. `kv` holds the current values (with the revisions that last wrote
 * and that created each key); `changes` is an append-only log of
 * every write with its revision, which is how watchers (in this process and in others sharing the
 * file, e.g. the daemon and netnsctl) learn about writes; `meta` holds the global revision and the
 * revision up to which the log has been compacted.
 */
import type BetterSqlite3 from 'better-sqlite3';

export const SCHEMA_VERSION = 2;

const CREATE = `
  CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    mod_revision INTEGER NOT NULL,
    create_revision INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS changes (
    revision INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT, -- NULL: the key was deleted
    PRIMARY KEY (revision, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
`;

export type Synchronous = 'full' | 'normal';

export interface PragmaOptions {
  busyTimeoutMs: number;
  /**
   * 'full' (default): a write is on disk when put() resolves, even across a power loss.
   * 'normal': never corrupt, but the last writes may be lost on power loss (not on a crash).
   */
  synchronous: Synchronous;
}

/** Sets the connection up and creates the tables when the file is new. */
export function prepareDatabase(db: BetterSqlite3.Database, options: PragmaOptions): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = OFF');
  const version = db.pragma('user_version', { simple: true });
  if (version === SCHEMA_VERSION) return;
  if (typeof version === 'number' && version > SCHEMA_VERSION) {
    throw new Error(`store schema version ${version} is newer than this agent's (${SCHEMA_VERSION})`);
  }
  // IMMEDIATE: two processes opening a new file at once must not both create it half-way.
  db.transaction(() => {
    const now = db.pragma('user_version', { simple: true });
    if (now === 1) {
      // Version 2 adds each key's create revision. A key's history before is not known: taken as
      // created when last written (a later put keeps it, a deletion and a put give a new one).
      db.exec('ALTER TABLE kv ADD COLUMN create_revision INTEGER NOT NULL DEFAULT 0');
      db.exec('UPDATE kv SET create_revision = mod_revision');
    } else if (now !== SCHEMA_VERSION) db.exec(CREATE);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
