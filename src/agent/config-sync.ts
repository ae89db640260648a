/**
 * From the datastore to the engine: every value under the agent's config prefix is parsed by the
 * model; valid values go to the engine as they are, invalid ones as an InvalidConfigValue (the item
 * shows `invalid` with its field errors and its previous valid value stays applied). A full read
 * (start-up, reconnect) replaces the desired state and resyncs the kernel.
 */
import {
  InvalidKeyError,
  InvalidValueError,
  namespaceId,
  parseItemText,
  type ModelItem,
  type NamespaceRef,
} from '../model/index.js';
import type { Engine, TransactionRecord } from '../scheduler/index.js';
import type { Change, KeyValue } from '../datastore/index.js';
import { InvalidConfigValue } from '../descriptors/invalid-value.js';
import { MemoryLastValid, type LastValidValues } from './last-valid-file.js';

export interface ParsedEntry {
  key: string;
  value: ModelItem['value'] | InvalidConfigValue;
}

export function parseEntry(key: string, text: string): ParsedEntry | undefined {
  try {
    return { key, value: parseItemText(key, text).value };
  } catch (error) {
    if (error instanceof InvalidValueError) {
      return {
        key,
        value: new InvalidConfigValue(error.errors.map((e) => ({ field: e.field, message: e.message }))),
      };
    }
    // A key that is not a config key (e.g. a status key under the prefix): not ours to apply.
    if (error instanceof InvalidKeyError) return undefined;
    throw error;
  }
}

export class ConfigSync {
  /** Valid desired values by key, to know which namespaces the configuration references. */
  private readonly valid = new Map<string, ModelItem['value']>();
  /** Per referenced namespace, how many valid values use it: kept as values come and go, so a
   * change of one item costs nothing in the size of the configuration. */
  private readonly namespaceUsers = new Map<string, { ref: NamespaceRef; users: number }>();
  private namespacesChanged = false;
  /** The namespaces last handed to `onNamespaces`, by id. */
  private published = new Map<string, NamespaceRef>();

  constructor(
    private readonly engine: Engine,
    private readonly onNamespaces: (refs: NamespaceRef[]) => void,
    /** Resolves when what these entries need is ready (namespaces open, gateway facts read). */
    private readonly prepare: (entries: ParsedEntry[]) => Promise<void> = async () => undefined,
    /** The last valid value of each key, kept across restarts (last-valid-file.ts). */
    private readonly lastValid: LastValidValues = new MemoryLastValid(),
  ) {}

  /** A full read: the desired state becomes exactly these items; the kernel is re-read. */
  async replaceAll(items: readonly KeyValue[]): Promise<TransactionRecord> {
    const puts: ParsedEntry[] = [];
    const validTexts = new Map<string, string>();
    for (const key of [...this.valid.keys()]) this.setValid(key, undefined);
    for (const item of items) {
      const entry = parseEntry(item.key, item.value);
      if (!entry) continue;
      if (entry.value instanceof InvalidConfigValue) {
        // Made invalid while the agent was down: its last valid value stays applied, as it would
        // have at run time (the engine takes the valid value, then keeps it when the next is refused).
        const previous = this.lastValidEntry(item.key);
        if (previous) {
          puts.push(previous.entry);
          this.setValid(item.key, previous.entry.value);
          validTexts.set(item.key, previous.text);
        }
      } else {
        this.setValid(entry.key, entry.value);
        validTexts.set(item.key, item.value);
      }
      puts.push(entry);
    }
    this.lastValid.replaceAll(validTexts);
    this.publishNamespaces('gained');
    await this.prepare(puts.filter((p) => !(p.value instanceof InvalidConfigValue)));
    try {
      return await this.engine.commit({ puts, replace: true, resync: true });
    } finally {
      this.publishNamespaces('all');
    }
  }

  async apply(changes: readonly Change[]): Promise<TransactionRecord> {
    const puts = new Map<string, ParsedEntry>();
    const deletes = new Set<string>();
    for (const change of changes) {
      if (change.type === 'delete') {
        puts.delete(change.key);
        deletes.add(change.key);
        this.setValid(change.key, undefined);
        this.lastValid.delete(change.key);
        continue;
      }
      const entry = parseEntry(change.key, change.value);
      if (!entry) continue;
      deletes.delete(change.key);
      puts.set(change.key, entry);
      if (!(entry.value instanceof InvalidConfigValue)) {
        this.setValid(entry.key, entry.value);
        this.lastValid.set(entry.key, change.value);
      }
    }
    // Namespaces referenced for the first time open before the commit, so that one transaction
    // creates everything instead of a trickle of them as each namespace's fact arrives.
    this.publishNamespaces('gained');
    await this.prepare([...puts.values()].filter((p) => !(p.value instanceof InvalidConfigValue)));
    try {
      return await this.engine.commit({ puts: [...puts.values()], deletes: [...deletes] });
    } finally {
      // Namespaces no longer referenced are let go only now: their items are removed as "no longer
      // desired", not first as "waiting for the namespace" when the last of them is deleted.
      this.publishNamespaces('all');
    }
  }

  /** The last valid value known for `key`, when there is one and it is still valid. */
  private lastValidEntry(
    key: string,
  ): { entry: { key: string; value: ModelItem['value'] }; text: string } | undefined {
    const text = this.lastValid.get(key);
    if (text === undefined) return undefined;
    const entry = parseEntry(key, text);
    if (!entry || entry.value instanceof InvalidConfigValue) return undefined;
    return { entry: { key, value: entry.value }, text };
  }

  /** Records the valid value of a key (undefined: none any more) and the namespace it uses. */
  private setValid(key: string, value: ModelItem['value'] | undefined): void {
    const before = this.valid.get(key);
    if (before) {
      const id = namespaceId(before.namespace);
      const users = this.namespaceUsers.get(id);
      if (users && --users.users === 0) {
        this.namespaceUsers.delete(id);
        this.namespacesChanged = true;
      }
      this.valid.delete(key);
    }
    if (value) {
      this.valid.set(key, value);
      const id = namespaceId(value.namespace);
      const users = this.namespaceUsers.get(id);
      if (users) users.users++;
      else {
        this.namespaceUsers.set(id, { ref: value.namespace, users: 1 });
        this.namespacesChanged = true;
      }
    }
  }

  /**
   * Hands the referenced namespaces on: 'gained' adds the new ones and keeps the ones no longer
   * referenced (their items are still to be removed); 'all' hands on exactly the referenced ones.
   */
  private publishNamespaces(which: 'gained' | 'all'): void {
    if (!this.namespacesChanged) return;
    const next = new Map([...this.namespaceUsers].map(([id, u]) => [id, u.ref]));
    const allPublished = [...next.keys()].every((id) => this.published.has(id));
    if (which === 'gained') {
      if (allPublished) return;
      for (const [id, ref] of this.published) if (!next.has(id)) next.set(id, ref);
    } else {
      this.namespacesChanged = false;
      if (allPublished && next.size === this.published.size) return;
    }
    this.published = next;
    this.onNamespaces([...next.values()]);
  }
}
