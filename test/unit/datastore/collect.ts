/** Test helper: records a watcher's events and waits for conditions on them. */
import type { Change, WatchEvent, WatchListener } from '../../../src/datastore/index.js';

export interface Collector {
  readonly events: WatchEvent[];
  readonly onEvent: WatchListener;
  /** Every change delivered so far, flattened, in order. */
  changes(): Change[];
  states(): string[];
  /** Resolves when `predicate` holds on the events, rejects after `timeoutMs`. */
  until(predicate: (events: WatchEvent[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export function collector(): Collector {
  const events: WatchEvent[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    onEvent: (event) => {
      events.push(event);
      wake?.();
    },
    changes: () => events.flatMap((event) => (event.type === 'changes' ? [...event.changes] : [])),
    states: () => events.flatMap((event) => (event.type === 'state' ? [event.state] : [])),
    until: async (predicate, timeoutMs = 5000, what = 'condition') => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(events)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events).slice(0, 2000)}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 50));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
  };
}
