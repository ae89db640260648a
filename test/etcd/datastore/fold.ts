/** Test helper: what a consumer knows after a sequence of watch events (key -> value, sorted). */
import type { WatchEvent } from '../../../src/datastore/index.js';

export function foldEvents(events: readonly WatchEvent[]): Map<string, string> {
  let state = new Map<string, string>();
  for (const event of events) {
    if (event.type === 'resync') state = new Map(event.items.map((item) => [item.key, item.value]));
    if (event.type === 'changes') {
      for (const change of event.changes) {
        if (change.type === 'put') state.set(change.key, change.value);
        else state.delete(change.key);
      }
    }
  }
  return new Map([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
