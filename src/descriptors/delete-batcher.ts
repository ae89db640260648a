/**
 * Deleting links one by one costs an RCU grace period each (~16 ms); links deleted together share
 * one. The batcher collects the link deletions of a moment, per namespace, and deletes them with
 * one request by group:
 * - The links we created live in the label's owned group (ownership.ts). When most of that group
 *   in a namespace is to go (a teardown), the few links of it that stay step out for a moment, the
 *   group is deleted as it is, and they step back in: no request per deleted link.
 * - Otherwise the links are moved into the doomed group (a cheap request each), which is deleted.
 *
 * Deleting the owned group as it is is safe only while no link of ours joins it in that namespace
 * between the dump that says what it holds and the deletion. The engine runs a transaction's
 * removals before its creations, one transaction at a time, so removals never run alongside our
 * creations; a deletion asked for by a creation (a stale link of ours in the way) says so, and its
 * batch takes the doomed group's way.
 */
import type { NamespaceView } from './namespace-views.js';
import { isGone } from './link-ops.js';
import { DOOMED_GROUP, ownedConfigName, ownedGroup } from './ownership.js';

/** A namespace's batch goes once no deletion was asked for there this long (the engine asks in slices)... */
const BATCH_QUIET_MS = 5;
/** ...or this long after its first one at the latest. */
const BATCH_MAX_WAIT_MS = 100;

/**
 * The owned group is used when the batch is at least this big and a quarter of the namespace's
 * links: it costs a dump of the namespace's links, which must say what the group holds right now.
 */
const OWNED_GROUP_MIN_BATCH = 16;

interface DeletedLink {
  at: number;
  alias: string | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Batch {
  view: NamespaceView;
  /** Who waits on each link: both ends of a VETH pair are deleted through the same link. */
  waiters: Map<number, Waiter[]>;
  /** The alias of each link when its deletion was asked for (see wasDeleted). */
  aliases: Map<number, string | undefined>;
  /** A deletion of the batch was asked for while our links may be being created there. */
  amidCreations: boolean;
  firstAskedAt: number;
  lastAskedAt: number;
}

export interface DeleteOptions {
  /** Asked by a creation: other links of ours may be being created in that namespace meanwhile. */
  amidCreations?: boolean;
}

/**
 * How long a link this batcher deleted is remembered as deleted. The other end of a pair deleted
 * through it asks again moments later; the kernel hands ifindexes out in increasing order, so one
 * is not given to another link that soon (and one asked for explicitly by someone else would not
 * be ours to delete anyway).
 */
const REMEMBER_DELETED_MS = 10_000;

export class DeleteBatcher {
  private readonly batches = new Map<NamespaceView, Batch>();
  private timer: NodeJS.Timeout | undefined;
  /** A look again at due batches is scheduled for the next event-loop turn (see tick). */
  private confirming = false;
  /**
   * Namespaces (by identity: several views, e.g. two containers' references, may show one) with
   * a batch being deleted: the next batch there waits for it (see run).
   */
  private readonly busy = new Set<string>();
  /** Per namespace view: ifindex -> when this batcher saw it deleted, and the alias it had. */
  private readonly deleted = new WeakMap<NamespaceView, Map<number, DeletedLink>>();

  /** The label whose owned group the links are kept in, and that group; none: the doomed group only. */
  private readonly owner: { label: string; group: number } | undefined;

  constructor(label?: string) {
    this.owner = label === undefined ? undefined : { label, group: ownedGroup(label) };
  }

  delete(view: NamespaceView, ifindex: number, options: DeleteOptions = {}): Promise<void> {
    if (this.wasDeleted(view, ifindex)) return Promise.resolve();
    const now = performance.now();
    let batch = this.batches.get(view);
    if (!batch) {
      batch = {
        view,
        waiters: new Map(),
        aliases: new Map(),
        amidCreations: false,
        firstAskedAt: now,
        lastAskedAt: now,
      };
      this.batches.set(view, batch);
    }
    batch.lastAskedAt = now;
    if (options.amidCreations) batch.amidCreations = true;
    let waiters = batch.waiters.get(ifindex);
    if (!waiters) {
      batch.waiters.set(ifindex, (waiters = []));
      batch.aliases.set(ifindex, view.links.get(ifindex)?.alias);
    }
    const list = waiters;
    const done = new Promise<void>((resolve, reject) => list.push({ resolve, reject }));
    this.timer ??= setTimeout(() => this.tick(), BATCH_QUIET_MS);
    return done;
  }

  /**
   * True when this batcher deleted the link lately (or was told it went with its peer:
   * noteDeleted), and no other link has that ifindex in the namespace since (one moved in keeps
   * its ifindex when it is free there).
   */
  wasDeleted(view: NamespaceView, ifindex: number): boolean {
    const deleted = this.deleted.get(view)?.get(ifindex);
    if (deleted === undefined || performance.now() - deleted.at >= REMEMBER_DELETED_MS) return false;
    // Still listed: the kernel's event saying it went has not been read yet (same alias), or it
    // is another link.
    const listed = view.links.get(ifindex);
    return listed === undefined || listed.alias === deleted.alias;
  }

  /** Records a link gone with another one this batcher deleted (the far end of a VETH pair). */
  noteDeleted(view: NamespaceView, ifindex: number): void {
    this.remember(view, [ifindex]);
  }

  /**
   * Starts the batches that are due; wakes up again for the others. `confirmed`: called one
   * event-loop turn after a batch was found due. Timers run before setImmediate callbacks, and the
   * engine hands out its operations in slices resumed by setImmediate: a batch that looks quiet
   * when its timer fires may be about to get the rest of a teardown's links. Looking again after
   * that turn keeps a teardown in one batch.
   */
  private tick(confirmed = false): void {
    if (!confirmed) this.timer = undefined;
    const now = performance.now();
    let nextDue = Infinity;
    let toConfirm = false;
    for (const [view, batch] of [...this.batches]) {
      // One batch at a time per namespace: a run moves links between groups, and the doomed or
      // owned group it deletes must hold exactly what it put there. A waiting batch is looked at
      // again when the run ends.
      const identity = view.identity;
      if (this.busy.has(identity)) continue;
      const due = Math.min(batch.lastAskedAt + BATCH_QUIET_MS, batch.firstAskedAt + BATCH_MAX_WAIT_MS);
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      if (!confirmed && now < batch.firstAskedAt + BATCH_MAX_WAIT_MS) {
        toConfirm = true;
        continue;
      }
      this.batches.delete(view);
      this.forgetOld(view);
      this.busy.add(identity);
      void this.run(batch)
        .catch((error: unknown) => {
          for (const list of batch.waiters.values()) for (const w of list) w.reject(error);
        })
        .finally(() => {
          this.busy.delete(identity);
          if (this.batches.size > 0) this.timer ??= setTimeout(() => this.tick(), 0);
        });
    }
    if (toConfirm && !this.confirming) {
      this.confirming = true;
      setImmediate(() => {
        this.confirming = false;
        this.tick(true);
      });
    }
    if (nextDue !== Infinity) this.timer ??= setTimeout(() => this.tick(), Math.max(1, nextDue - now));
  }

  private forgetOld(view: NamespaceView): void {
    const deleted = this.deleted.get(view);
    if (!deleted) return;
    const now = performance.now();
    for (const [index, { at }] of deleted) if (now - at >= REMEMBER_DELETED_MS) deleted.delete(index);
  }

  /** `aliases`: what the links were called when deletion was asked for (the registry may lag or not). */
  private remember(view: NamespaceView, indexes: number[], aliases?: Map<number, string | undefined>): void {
    let deleted = this.deleted.get(view);
    if (!deleted) this.deleted.set(view, (deleted = new Map()));
    const at = performance.now();
    for (const index of indexes) {
      const alias = aliases?.has(index) ? aliases.get(index) : view.links.get(index)?.alias;
      deleted.set(index, { at, alias });
    }
  }

  /**
   * Each link gets its own outcome: one refused request must not fail the others, nor leave links
   * that were not deleted in the doomed group (a later batch would delete them with its own).
   */
  private async run(batch: Batch): Promise<void> {
    const { view } = batch;
    const waiters = new Map([...batch.waiters].map(([index, list]) => [index, group(list)]));
    let indexes = [...waiters.keys()];
    if (indexes.length === 1) {
      if (await settle(waiters.get(indexes[0]!)!, deleteOne(view, indexes[0]!)))
        this.remember(view, indexes, batch.aliases);
      return;
    }
    if (
      this.owner !== undefined &&
      !batch.amidCreations &&
      indexes.length >= OWNED_GROUP_MIN_BATCH &&
      indexes.length * 4 >= view.links.size
    ) {
      const deleted = await deleteThroughGroupAsItIs(view, this.owner.label, this.owner.group, indexes);
      if (deleted.length > 0) {
        this.remember(view, deleted, batch.aliases);
        for (const index of deleted) waiters.get(index)!.resolve();
        const gone = new Set(deleted);
        indexes = indexes.filter((index) => !gone.has(index));
      }
    }
    if (indexes.length > 0) await this.deleteThroughDoomedGroup(view, indexes, waiters, batch.aliases);
  }

  private async deleteThroughDoomedGroup(
    view: NamespaceView,
    indexes: number[],
    waiters: Map<number, Waiter>,
    aliases: Map<number, string | undefined>,
  ): Promise<void> {
    const grouped: number[] = [];
    const alone: number[] = [];
    const gone: number[] = [];
    await Promise.all(
      indexes.map(async (index) => {
        try {
          await view.handle.linkSetGroup(index, DOOMED_GROUP);
          grouped.push(index);
        } catch (error) {
          if (isGone(error)) {
            gone.push(index);
            waiters.get(index)!.resolve();
          } else alone.push(index); // refused: deleted by itself below
        }
      }),
    );
    this.remember(view, gone, aliases);
    if (grouped.length === 0 || (await deleteGroup(view, DOOMED_GROUP))) {
      this.remember(view, grouped, aliases);
      for (const index of grouped) waiters.get(index)!.resolve();
    } else alone.push(...grouped);
    const outcomes = await Promise.all(
      alone.map((index) => settle(waiters.get(index)!, deleteOne(view, index, true))),
    );
    this.remember(
      view,
      alone.filter((_, k) => outcomes[k]),
      aliases,
    );
  }
}

/**
 * Deletes `indexes` through the group they were kept in, if that costs fewer requests than moving
 * them: the links of the group that are not to go step out of it first and back in after. Asks
 * the kernel what the group holds (the registry may lag behind); gives up, deleting nothing, at
 * the first doubt. Returns the links it deleted (the others go the doomed group's way).
 */
async function deleteThroughGroupAsItIs(
  view: NamespaceView,
  label: string,
  groupId: number,
  indexes: number[],
): Promise<number[]> {
  let links;
  try {
    links = await view.handle.linkGroupList();
  } catch {
    return [];
  }
  const doomed = new Set(indexes);
  const inGroup = links.filter((l) => l.group === groupId);
  const going = inGroup.filter((l) => doomed.has(l.index)).map((l) => l.index);
  const staying = inGroup.filter((l) => !doomed.has(l.index));
  // Two requests for each link that stays, against one for each that goes the doomed group's way.
  // Any that stays without our mark (made by an agent killed before marking it, or another
  // label's that shares the group) means the group is left alone altogether.
  if (going.length === 0 || 2 * staying.length >= going.length) return [];
  if (staying.some((l) => ownedConfigName(label, l.alias) === undefined)) return [];
  const steppedOut: number[] = [];
  let refused = false;
  await Promise.all(
    staying.map(async (link) => {
      try {
        await view.handle.linkSetGroup(link.index, 0);
        steppedOut.push(link.index);
      } catch (error) {
        if (!isGone(error)) refused = true;
      }
    }),
  );
  const deleted = !refused && (await deleteGroup(view, groupId));
  // Best effort: one left in group 0 is still ours by its alias, and is deleted the doomed way.
  await Promise.all(
    steppedOut.map((index) => view.handle.linkSetGroup(index, groupId).catch(() => undefined)),
  );
  return deleted ? going : [];
}

/** Deletes every link of a group; true when none is left (an empty group is ENODEV: done already). */
async function deleteGroup(view: NamespaceView, groupId: number): Promise<boolean> {
  try {
    await view.handle.linkDelGroup(groupId);
    return true;
  } catch (error) {
    return isGone(error);
  }
}

/** One outcome for everyone waiting on the same link. */
function group(list: Waiter[]): Waiter {
  if (list.length === 1) return list[0]!;
  return {
    resolve: () => list.forEach((w) => w.resolve()),
    reject: (error) => list.forEach((w) => w.reject(error)),
  };
}

/** Deletes one link; gone already is done. `regroup`: on failure, take it out of the doomed group. */
async function deleteOne(view: NamespaceView, index: number, regroup = false): Promise<void> {
  try {
    await view.handle.linkDel(index);
  } catch (error) {
    if (isGone(error)) return;
    // Best effort: if this fails too, the link stays doomed and goes with the next batch there;
    // the engine retries its removal anyway, or re-marks it if it is wanted again.
    if (regroup) await view.handle.linkSetGroup(index, 0).catch(() => undefined);
    throw error;
  }
}

/** Passes the outcome of `work` on; true when it succeeded. */
async function settle(waiter: Waiter, work: Promise<void>): Promise<boolean> {
  try {
    await work;
    waiter.resolve();
    return true;
  } catch (error) {
    waiter.reject(error);
    return false;
  }
}
