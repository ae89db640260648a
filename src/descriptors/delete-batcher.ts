/**
 * Deleting links one by one costs an RCU grace period each (~16 ms); links deleted together share
 * one. The batcher collects the link deletions of a moment, per namespace, moves those links into
 * a group of their own (a cheap request) and deletes the group in one request.
 */
import type { NamespaceView } from './namespace-views.js';
import { isGone } from './link-ops.js';
import { DOOMED_GROUP } from './ownership.js';

const BATCH_WINDOW_MS = 5;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Batch {
  view: NamespaceView;
  /** Who waits on each link: both ends of a VETH pair are deleted through the same link. */
  waiters: Map<number, Waiter[]>;
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
  private scheduled = false;
  /** Per namespace view: ifindex -> when this batcher saw it deleted. */
  private readonly deleted = new WeakMap<NamespaceView, Map<number, number>>();

  delete(view: NamespaceView, ifindex: number): Promise<void> {
    const when = this.deleted.get(view)?.get(ifindex);
    if (when !== undefined && performance.now() - when < REMEMBER_DELETED_MS) return Promise.resolve();
    let batch = this.batches.get(view);
    if (!batch) this.batches.set(view, (batch = { view, waiters: new Map() }));
    let waiters = batch.waiters.get(ifindex);
    if (!waiters) batch.waiters.set(ifindex, (waiters = []));
    const list = waiters;
    const done = new Promise<void>((resolve, reject) => list.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      // Let the engine issue the rest of the transaction's deletions first (it gives the event
      // loop a turn between slices of operations, so wait a little longer than one turn).
      setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    }
    return done;
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    for (const batch of batches) {
      const deleted = this.deleted.get(batch.view);
      const now = performance.now();
      if (deleted)
        for (const [index, when] of deleted) if (now - when >= REMEMBER_DELETED_MS) deleted.delete(index);
      void this.run(batch);
    }
  }

  private remember(view: NamespaceView, indexes: number[]): void {
    let deleted = this.deleted.get(view);
    if (!deleted) this.deleted.set(view, (deleted = new Map()));
    const now = performance.now();
    for (const index of indexes) deleted.set(index, now);
  }

  /**
   * Each link gets its own outcome: one refused request must not fail the others, nor leave links
   * that were not deleted in the doomed group (a later batch would delete them with its own).
   */
  private async run(batch: Batch): Promise<void> {
    const { view } = batch;
    const indexes = [...batch.waiters.keys()];
    const waiters = indexes.map((index) => group(batch.waiters.get(index)!));
    if (indexes.length === 1) {
      if (await settle(waiters[0]!, deleteOne(view, indexes[0]!))) this.remember(view, indexes);
      return;
    }
    const grouped: number[] = [];
    const alone: number[] = [];
    await Promise.all(
      indexes.map(async (index, i) => {
        try {
          await view.handle.linkSetGroup(index, DOOMED_GROUP);
          grouped.push(i);
        } catch (error) {
          if (isGone(error)) waiters[i]!.resolve();
          else alone.push(i); // refused: deleted by itself below
        }
      }),
    );
    let groupDeleted = grouped.length === 0;
    if (!groupDeleted) {
      try {
        await view.handle.linkDelGroup(DOOMED_GROUP);
        groupDeleted = true;
      } catch (error) {
        groupDeleted = isGone(error);
      }
    }
    if (groupDeleted) {
      this.remember(
        view,
        grouped.map((i) => indexes[i]!),
      );
      for (const i of grouped) waiters[i]!.resolve();
    } else alone.push(...grouped);
    const outcomes = await Promise.all(
      alone.map((i) => settle(waiters[i]!, deleteOne(view, indexes[i]!, true))),
    );
    this.remember(
      view,
      alone.filter((_, k) => outcomes[k]).map((i) => indexes[i]!),
    );
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
