/**
 * Background checkpoints for the agent's store. In WAL mode, a commit that finds the WAL past its
 * limit copies it into the database file and syncs both, inside the commit: 10-30 ms during which
 * the agent's event loop (or a user's `netnsctl put`) waits. With a checkpointer, the agent's own
 * connection never checkpoints, and a worker thread does it every few milliseconds, keeping the
 * WAL short enough that other processes' commits rarely have to either.
 */
import { Worker } from 'node:worker_threads';

export class Checkpointer {
  readonly #worker: Worker;
  /** Resolves when the worker has ended, however it ended (closed, failed to open, crashed). */
  readonly #exited: Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(file: string, intervalMs = 100) {
    this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { file, intervalMs },
      // Small heaps: the worker only runs a pragma.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    // Checkpoints are housekeeping: without the worker, commits past the WAL limit still do them.
    this.#worker.on('error', () => undefined);
    this.#worker.unref();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#worker.ref(); // whoever awaits close() waits for the worker's end
      this.#worker.postMessage('close');
      // A worker stuck in a long checkpoint is stopped; the next open finishes the job.
      const stop = setTimeout(() => void this.#worker.terminate(), 1000);
      await this.#exited;
      clearTimeout(stop);
    })();
    return this.#closing;
  }
}
