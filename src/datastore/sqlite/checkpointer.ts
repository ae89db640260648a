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
  #closing: Promise<void> | undefined;

  constructor(file: string, intervalMs = 100) {
    this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { file, intervalMs },
      // Small heaps: the worker only runs a pragma.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    this.#worker.on('error', () => undefined); // checkpoints are housekeeping: commits still do them otherwise
    this.#worker.unref();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#worker.once('exit', () => resolve());
      this.#worker.ref(); // whoever awaits close() waits for the worker's end
      this.#worker.postMessage('close');
      // A worker stuck in a long checkpoint is stopped; the next open finishes the job.
      setTimeout(() => void this.#worker.terminate(), 1000).unref();
    });
    return this.#closing;
  }
}
