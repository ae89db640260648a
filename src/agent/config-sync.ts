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
import { MemoryLastValid, type LastValid, type LastValidValues } from './last-valid-file.js';

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

/** A valid value proposed to the engine, with what the file of last valid values keeps of it. */
/** Exclusive claims (host names, route places, ARP entries) as the plugin sees them. */
export interface ClaimLookup {
  /**
   * Of the entries, those that dispute a claim (with its id), and of those the ones whose claim the
   * kernel holds as theirs (their link, their route).
   */
  holders(entries: readonly ParsedEntry[]): Promise<{ holders: Set<string>; disputed: Map<string, string> }>;
  /** The claim ids of a valid value (an AUTO_TAP has two: its host name and its TAP). */
  claimsOf(entry: ParsedEntry): string[];
}

const NO_CLAIMS: ClaimLookup = {
  holders: async () => ({ holders: new Set(), disputed: new Map() }),
  claimsOf: () => [],
};

interface Candidate extends LastValid {
  entry: { key: string; value: ModelItem['value'] };
}

export class ConfigSync {
  /**
   * Valid values the engine refused (a claim another item held), by key: taken later when that
   * claim is let go, they are then the last valid values of their keys.
   */
  private readonly refused = new Map<string, Candidate>();
  /** Settles once the latest call has handed its commit to the engine (waitTurn). */
  private turn: Promise<void> = Promise.resolve();
  /** Each key's create revision in the store (see KeyValue.createRevision). */
  private readonly created = new Map<string, number>();
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
    /** Who holds what: in a full read, where the order of the puts decides who gets a claim. */
    private readonly claims: ClaimLookup = NO_CLAIMS,
  ) {}

  /** A full read: the desired state becomes exactly these items; the kernel is re-read. */
  async replaceAll(items: readonly KeyValue[]): Promise<TransactionRecord> {
    const puts: ParsedEntry[] = [];
    /** Valid values proposed, to be recorded once the engine has accepted them. */
    const candidates: Candidate[] = [];
    for (const key of [...this.valid.keys()]) this.setValid(key, undefined);
    this.created.clear();
    for (const item of items) {
      const entry = parseEntry(item.key, item.value);
      if (!entry) continue;
      this.created.set(item.key, item.createRevision);
      if (entry.value instanceof InvalidConfigValue) {
        // Made invalid while the agent was down: its last valid value stays applied, as it would
        // have at run time (the engine takes the valid value, then keeps it when the next is
        // refused). Not when the key was deleted and put again meanwhile: that is another item.
        const previous = this.lastValidEntry(item.key, item.createRevision);
        if (previous) {
          puts.push(previous.entry);
          this.setValid(item.key, previous.entry.value);
          candidates.push(previous);
        }
      } else {
        this.setValid(entry.key, entry.value);
        candidates.push({
          entry: { key: entry.key, value: entry.value },
          text: item.value,
          created: item.createRevision,
        });
      }
      puts.push(entry);
    }
    this.publishNamespaces('gained');
    const release = await this.waitTurn();
    let committing: Promise<TransactionRecord>;
    try {
      ({ committing } = await this.prepareFullRead(items, puts, candidates));
    } finally {
      release();
    }
    try {
      return await committing;
    } finally {
      this.refused.clear();
      const accepted = this.accepted(candidates);
      this.lastValid.replaceAll(
        new Map(accepted.map((c) => [c.entry.key, { text: c.text, created: c.created }])),
      );
      const taken = new Set(accepted);
      for (const c of candidates) if (!taken.has(c)) this.refused.set(c.entry.key, c);
      this.publishNamespaces('all');
    }
  }

  /**
   * Waits for the calls before this one to hand their commits to the engine (each prepares first,
   * which takes longer for some changes than for others); call the function it gives once this
   * one has. The engine then gets the changes in the order they came: a later change of a key is
   * never overtaken by an earlier one, nor a change by the full read before it.
   */
  private async waitTurn(): Promise<() => void> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }

  /** A full read's puts prepared and ordered, then committed: the engine's transaction. */
  private async prepareFullRead(
    items: readonly KeyValue[],
    puts: ParsedEntry[],
    candidates: Candidate[],
  ): Promise<{ committing: Promise<TransactionRecord> }> {
    await this.prepare(puts.filter((p) => !(p.value instanceof InvalidConfigValue)));
    // Of two items claiming one host name (one route place, one ARP entry), the one that held it
    // keeps it: at run time the first claimant wins, and a restart must not hand the claim to the
    // other by key order. The holder is the one whose link (route) the kernel holds as its own,
    // else the one whose value was accepted before (the last valid values are only those the
    // engine took: an EXISTING link carries no mark, and a route may be gone from the kernel).
    const { holders: inKernel, disputed } = await this.claims.holders(puts);
    const acceptedBefore = new Set<string>();
    /** Last valid values of disputed items that changed since: put before their new values. */
    const earlier = new Map<string, Candidate>();
    for (const item of items) {
      const claim = disputed.get(item.key);
      if (claim === undefined || inKernel.has(item.key)) continue;
      // The claim its value had when the engine took it last (also when it changed since, or is
      // invalid now: the claim book keeps a holder through changes that keep the claim).
      const last = this.lastValidEntry(item.key, item.createRevision);
      if (last && this.claims.claimsOf(last.entry).includes(claim)) acceptedBefore.add(item.key);
      // Changed while the agent was down to a value another item's claim may refuse: at run time
      // the value before would stay in effect; so it does here (it goes first, the new one after).
      else if (last && last.text !== item.value) earlier.set(item.key, last);
    }
    if (earlier.size > 0) {
      const withEarlier: ParsedEntry[] = [];
      for (const p of puts) {
        const before = earlier.get(p.key);
        if (before && !(p.value instanceof InvalidConfigValue)) {
          withEarlier.push(before.entry);
          candidates.push(before);
        }
        withEarlier.push(p);
      }
      puts.splice(0, puts.length, ...withEarlier);
    }
    const holders = [
      ...puts.filter((p) => inKernel.has(p.key)),
      ...puts.filter((p) => acceptedBefore.has(p.key)),
    ];
    if (holders.length > 0 && holders.length < puts.length) {
      const first = new Set(holders);
      puts.splice(0, puts.length, ...holders, ...puts.filter((p) => !first.has(p)));
    }
    // Wrapped: awaiting it must not wait for the transaction (only for it to be handed over).
    return { committing: this.engine.commit({ puts, replace: true, resync: true }) };
  }

  async apply(changes: readonly Change[]): Promise<TransactionRecord> {
    const puts = new Map<string, ParsedEntry>();
    const deletes = new Set<string>();
    const candidates = new Map<string, Candidate>();
    for (const change of changes) {
      this.refused.delete(change.key);
      if (change.type === 'delete') {
        puts.delete(change.key);
        candidates.delete(change.key);
        deletes.add(change.key);
        this.setValid(change.key, undefined);
        this.created.delete(change.key);
        this.lastValid.delete(change.key);
        continue;
      }
      const entry = parseEntry(change.key, change.value);
      if (!entry) continue;
      deletes.delete(change.key);
      puts.set(change.key, entry);
      // A key the store did not hold is created by this put (etcd's create_revision).
      let created = this.created.get(change.key);
      if (created === undefined) this.created.set(change.key, (created = change.revision));
      if (!(entry.value instanceof InvalidConfigValue)) {
        this.setValid(entry.key, entry.value);
        candidates.set(entry.key, {
          entry: { key: entry.key, value: entry.value },
          text: change.value,
          created,
        });
      } else candidates.delete(entry.key);
    }
    // Namespaces referenced for the first time open before the commit, so that one transaction
    // creates everything instead of a trickle of them as each namespace's fact arrives.
    this.publishNamespaces('gained');
    const release = await this.waitTurn();
    let committing: Promise<TransactionRecord>;
    try {
      await this.prepare([...puts.values()].filter((p) => !(p.value instanceof InvalidConfigValue)));
      committing = this.engine.commit({ puts: [...puts.values()], deletes: [...deletes] });
    } finally {
      release();
    }
    try {
      return await committing;
    } finally {
      // Refused values the engine took since (the claim they waited for was let go) count too.
      const proposed = [...candidates.values(), ...this.refused.values()];
      const accepted = new Set(this.accepted(proposed));
      for (const c of proposed) {
        if (accepted.has(c)) {
          this.lastValid.set(c.entry.key, { text: c.text, created: c.created });
          this.refused.delete(c.entry.key);
        } else this.refused.set(c.entry.key, c);
      }
      // Namespaces no longer referenced are let go only now: their items are removed as "no longer
      // desired", not first as "waiting for the namespace" when the last of them is deleted.
      this.publishNamespaces('all');
    }
  }

  /**
   * The candidates the engine took as their key's value: a value it refused (a host name another
   * item claims) is not one to fall back on.
   */
  private accepted(candidates: Candidate[]): Candidate[] {
    return candidates.filter((c) => this.engine.state.value(c.entry.key) === c.entry.value);
  }

  /** The last valid value known for `key`, when it is still valid and of the same item. */
  private lastValidEntry(key: string, createRevision: number): Candidate | undefined {
    const last = this.lastValid.get(key);
    if (last === undefined || last.created !== createRevision) return undefined;
    const entry = parseEntry(key, last.text);
    if (!entry || entry.value instanceof InvalidConfigValue) return undefined;
    return { entry: { key, value: entry.value }, text: last.text, created: last.created };
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
