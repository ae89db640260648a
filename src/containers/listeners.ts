/**
 * A minimal typed event emitter: `on(name, listener)` returns its own unsubscribe function, and a
 * listener that throws is reported instead of breaking the emitter (the watcher must keep
 * tracking Docker whatever its consumers do).
 */
export class Listeners<Events extends object> {
  private readonly byName = new Map<keyof Events, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError: (name: keyof Events, error: unknown) => void) {}

  on<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): () => void {
    let set = this.byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.byName.set(name, set);
    }
    const stored = listener as (payload: never) => void;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  emit<Name extends keyof Events>(name: Name, payload: Events[Name]): void {
    const set = this.byName.get(name);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[Name]) => void)(payload);
      } catch (error) {
        this.onListenerError(name, error);
      }
    }
  }

  clear(): void {
    this.byName.clear();
  }
}
