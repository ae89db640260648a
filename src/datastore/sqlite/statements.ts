/**
 * Every SQL statement of the embedded store, prepared once per connection, and the read and write
 * operations built from them. All of it is synchronous (better-sqlite3); the store wraps it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { prefixEnd } from '../prefix.js';
import type { Change, KeyValue, ListResult, PutEntry } from '../types.js';

interface KvRow {
  key: string;
  value: string;
  mod_revision: number;
  create_revision: number;
}

interface ChangeRow {
  revision: number;
  key: string;
  value: string | null;
}

/** A key range: everything under a prefix. `end` null: no upper bound (the empty prefix). */
interface Range {
  start: string;
  end: string | null;
}

function rangeOf(prefix: string): Range {
  return { start: prefix, end: prefixEnd(prefix) };
}

function toKeyValue(row: KvRow): KeyValue {
  return {
    key: row.key,
    value: row.value,
    modRevision: row.mod_revision,
    createRevision: row.create_revision,
  };
}

function toChange(row: ChangeRow): Change {
  return row.value === null
    ? { type: 'delete', key: row.key, revision: row.revision }
    : { type: 'put', key: row.key, value: row.value, revision: row.revision };
}

/** Changes after a revision, with the compaction mark they were read with. */
export interface ChangesRead {
  changes: Change[];
  compacted: number;
}

export class Statements {
  readonly #db: BetterSqlite3.Database;
  readonly #meta;
  readonly #bumpRevision;
  readonly #get;
  readonly #listBounded;
  readonly #listAll;
  readonly #keysBounded;
  readonly #keysAll;
  readonly #upsert;
  readonly #deleteKey;
  readonly #logChange;
  readonly #changesBounded;
  readonly #changesAll;
  readonly #dataVersion;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
    this.#meta = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?');
    this.#bumpRevision = db.prepare<[], { value: number }>(
      "UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value",
    );
    this.#get = db.prepare<[string], KvRow>(
      'SELECT key, value, mod_revision, create_revision FROM kv WHERE key = ?',
    );
    this.#listBounded = db.prepare<[string, string], KvRow>(
      'SELECT key, value, mod_revision, create_revision FROM kv WHERE key >= ? AND key < ? ORDER BY key',
    );
    this.#listAll = db.prepare<[string], KvRow>(
      'SELECT key, value, mod_revision, create_revision FROM kv WHERE key >= ? ORDER BY key',
    );
    this.#keysBounded = db.prepare<[string, string], { key: string }>(
      'SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key',
    );
    this.#keysAll = db.prepare<[string], { key: string }>('SELECT key FROM kv WHERE key >= ? ORDER BY key');
    // A new key is created at this revision; an existing one keeps its create revision.
    this.#upsert = db.prepare<[string, string, number, number]>(
      'INSERT INTO kv (key, value, mod_revision, create_revision) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision',
    );
    this.#deleteKey = db.prepare<[string]>('DELETE FROM kv WHERE key = ?');
    this.#logChange = db.prepare<[number, string, string | null]>(
      'INSERT INTO changes (revision, key, value) VALUES (?, ?, ?)',
    );
    this.#changesBounded = db.prepare<[number, string, string], ChangeRow>(
      'SELECT revision, key, value FROM changes WHERE revision > ? AND key >= ? AND key < ? ' +
        'ORDER BY revision, key',
    );
    this.#changesAll = db.prepare<[number, string], ChangeRow>(
      'SELECT revision, key, value FROM changes WHERE revision > ? AND key >= ? ORDER BY revision, key',
    );
    this.#dataVersion = db.prepare<[], { data_version: number }>('PRAGMA data_version');
  }

  /**
   * Changes when another connection (another process, or another store object on the same file)
   * commits; not for this connection's own writes.
   */
  dataVersion(): number {
    return this.#dataVersion.get()?.data_version ?? 0;
  }

  revision(): number {
    return this.#meta.get('revision')?.value ?? 0;
  }

  get(key: string): KeyValue | undefined {
    const row = this.#get.get(key);
    return row === undefined ? undefined : toKeyValue(row);
  }

  /** One consistent snapshot: the items under the prefix and the revision they are at. */
  list(prefix: string): ListResult {
    return this.#db.transaction(() => {
      const { start, end } = rangeOf(prefix);
      const rows = end === null ? this.#listAll.all(start) : this.#listBounded.all(start, end);
      return { items: rows.map(toKeyValue), revision: this.revision() };
    })();
  }

  /** Changes under the prefix after `afterRevision`, in order, with the compaction mark. */
  changesAfter(prefix: string, afterRevision: number): ChangesRead {
    return this.#db.transaction(() => {
      const { start, end } = rangeOf(prefix);
      const rows =
        end === null
          ? this.#changesAll.all(afterRevision, start)
          : this.#changesBounded.all(afterRevision, start, end);
      return { changes: rows.map(toChange), compacted: this.#meta.get('compacted')?.value ?? 0 };
    })();
  }

  compacted(): number {
    return this.#meta.get('compacted')?.value ?? 0;
  }

  /** Puts all entries in one write transaction and one revision; the last of a duplicate wins. */
  putMany(entries: readonly PutEntry[]): number {
    const latest = new Map<string, string>();
    for (const { key, value } of entries) {
      latest.delete(key); // keep the order of the last occurrence
      latest.set(key, value);
    }
    return this.write(
      [...latest].map(([key, value]) => ({ key, value })),
      () => [],
    ).revision;
  }

  /**
   * Deletes the keys `findKeys` returns (it runs inside the write transaction, so what it finds is
   * what gets deleted), in one revision; returns how many there were (0: no new revision).
   */
  deleteKeys(findKeys: () => string[]): number {
    return this.write([], findKeys).deleted.length;
  }

  /**
   * Puts (no key twice) and the deletion of the keys `findKeys` returns (run inside the
   * transaction: those that exist then), in one revision; returns it (the current one when nothing
   * changed) and the keys deleted.
   */
  write(puts: readonly PutEntry[], findKeys: () => string[]): { revision: number; deleted: string[] } {
    return this.#db
      .transaction(() => {
        const deleted = findKeys();
        if (puts.length === 0 && deleted.length === 0) return { revision: this.revision(), deleted };
        const revision = this.#nextRevision();
        for (const { key, value } of puts) {
          this.#upsert.run(key, value, revision, revision);
          this.#logChange.run(revision, key, value);
        }
        for (const key of deleted) {
          this.#deleteKey.run(key);
          this.#logChange.run(revision, key, null);
        }
        return { revision, deleted };
      })
      .immediate();
  }

  existingKey(key: string): string[] {
    return this.#get.get(key) === undefined ? [] : [key];
  }

  keysUnder(prefix: string): string[] {
    const { start, end } = rangeOf(prefix);
    const rows = end === null ? this.#keysAll.all(start) : this.#keysBounded.all(start, end);
    return rows.map((row) => row.key);
  }

  #nextRevision(): number {
    const row = this.#bumpRevision.get();
    if (row === undefined) throw new Error('store metadata is missing its revision row');
    return row.value;
  }
}
