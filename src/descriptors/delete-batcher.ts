/**
 * Deleting links one by one costs an RCU grace period each (~16 ms); links deleted together share
 * one. The batcher collects the link deletions of a moment, per namespace, moves those links into
 * a group of their own (a cheap request) and deletes the group in one request.
 */
import type { NamespaceView } from './namespace-views.js';
import { isGone } from './link-ops.js';

/** IFLA_GROUP used only for links about to be deleted. */
export const DOOMED_GROUP = 0x6e61; // 'na'

const BATCH_WINDOW_MS = 5;

interface Batch {
  view: NamespaceView;
  indexes: number[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

export class DeleteBatcher {
  private readonly batches = new Map<NamespaceView, Batch>();
  private scheduled = false;

  delete(view: NamespaceView, ifindex: number): Promise<void> {
    let batch = this.batches.get(view);
    if (!batch) this.batches.set(view, (batch = { view, indexes: [], waiters: [] }));
    batch.indexes.push(ifindex);
    const done = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
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
    for (const batch of batches) void this.run(batch);
  }

  private async run(batch: Batch): Promise<void> {
    const { view, indexes, waiters } = batch;
    try {
      if (indexes.length === 1) {
        await view.handle.linkDel(indexes[0]!).catch((error: unknown) => {
          if (!isGone(error)) throw error;
        });
      } else {
        await Promise.all(
          indexes.map((index) =>
            view.handle.linkSetGroup(index, DOOMED_GROUP).catch((error: unknown) => {
              if (!isGone(error)) throw error;
            }),
          ),
        );
        await view.handle.linkDelGroup(DOOMED_GROUP).catch((error: unknown) => {
          if (!isGone(error)) throw error;
        });
      }
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}
