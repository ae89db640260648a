/**
 * Runs tasks that wait for each other (a DAG given by `after` indexes) with at most `limit` in
 * flight: the kernel layer pipelines requests, so many independent operations go out at once.
 * Long runs of tasks that finish without real I/O give the event loop a turn every `sliceMs`.
 */
import { performance } from 'node:perf_hooks';

export interface DagOptions {
  limit: number;
  sliceMs: number;
}

export function runDag(
  after: readonly (readonly number[])[],
  /** Starts task `index`; it calls `done` once, when finished (it handles its own errors). */
  run: (index: number, done: () => void) => void,
  options: DagOptions,
): Promise<void> {
  const count = after.length;
  if (count === 0) return Promise.resolve();
  const waiting = new Int32Array(count);
  const successors: number[][] = new Array<number[]>(count);
  for (let i = 0; i < count; i++) successors[i] = [];
  for (let i = 0; i < count; i++) {
    for (const p of after[i]!) {
      successors[p]!.push(i);
      waiting[i]!++;
    }
  }
  const ready: number[] = [];
  for (let i = 0; i < count; i++) if (waiting[i] === 0) ready.push(i);

  return new Promise<void>((resolve) => {
    let head = 0;
    let inFlight = 0;
    let done = 0;
    let sliceStart = performance.now();
    let deferred = false;
    // A task may call `done` before `run` returns (skipped, nothing to await): its pump() would
    // start the next one from inside, a frame deeper each, and a long run of them (a 3x W1
    // teardown) overflowed the stack; each nested pump also began at started = 0, so the slice
    // never ended. The outer pump's loop starts them instead.
    let pumping = false;

    const finish = (i: number): void => {
      inFlight--;
      done++;
      for (const s of successors[i]!) if (--waiting[s]! === 0) ready.push(s);
      if (done === count) resolve();
      else pump();
    };
    const resume = (): void => {
      deferred = false;
      sliceStart = performance.now();
      pump();
    };
    const pump = (): void => {
      if (deferred || pumping) return;
      pumping = true;
      try {
        let started = 0;
        while (inFlight < options.limit && head < ready.length) {
          // At least one task per turn, so a slow turn (GC, a loaded machine) cannot defer forever.
          if (started > 0 && performance.now() - sliceStart > options.sliceMs) {
            deferred = true;
            setImmediate(resume);
            return;
          }
          const i = ready[head++]!;
          inFlight++;
          started++;
          run(i, () => finish(i));
        }
      } finally {
        pumping = false;
      }
    };
    pump();
  });
}
