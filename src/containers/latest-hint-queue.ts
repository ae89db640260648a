/**
 * Serialises work per key and keeps only the latest hint for each: while one refresh of a key runs,
 * further hints for that key overwrite each other, and the worker runs once more with the last.
 * This is what makes the watcher level-based: a burst of events for one container costs at most
 * two refreshes, and the last refresh always starts after the last event.
 */
export class LatestHintQueue<Hint> {
  private readonly pending = new Map<string, Hint>();
  private readonly workers = new Map<string, Promise<void>>();
  private stopped = false;

  /**
   * @param work handles one hint; must not throw (errors are the caller's to report).
   * @param keepsPending says whether an already waiting hint should stay instead of `next`.
   */
  constructor(
    private readonly work: (key: string, hint: Hint) => Promise<void>,
    private readonly keepsPending: (waiting: Hint, next: Hint) => boolean = () => false,
  ) {}

  /** Queues `hint` for `key`; resolves when no hint for `key` is waiting any more. */
  schedule(key: string, hint: Hint): Promise<void> {
    const waiting = this.pending.get(key);
    if (waiting === undefined || !this.keepsPending(waiting, hint)) this.pending.set(key, hint);
    const running = this.workers.get(key);
    if (running !== undefined) return running;
    const worker = this.drain(key);
    this.workers.set(key, worker);
    return worker;
  }

  /** Drops waiting hints and resolves when the refreshes under way have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending.clear();
    await Promise.allSettled([...this.workers.values()]);
  }

  private async drain(key: string): Promise<void> {
    try {
      for (
        let hint = this.pending.get(key);
        hint !== undefined && !this.stopped;
        hint = this.pending.get(key)
      ) {
        this.pending.delete(key);
        await this.work(key, hint);
      }
    } finally {
      // Synchronous with the loop's last look at `pending`: a schedule() after this starts a new worker.
      this.workers.delete(key);
    }
  }
}
