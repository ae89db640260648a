/**
 * The namespaces (ids, as model/namespace.ts makes them) where the agent has made something, kept
 * where the next run finds them (the agent's book is a file: src/agent/used-namespaces-file.ts).
 * A start watches them even when the configuration no longer names them, so that its resync sees
 * what is there: items deleted from the store while the agent was down, the last of their
 * namespace, are removed from the kernel instead of being left there for ever.
 */
export interface UsedNamespaces {
  ids(): readonly string[];
  /** The ids now (the caller computes them); written when they changed. */
  set(ids: Iterable<string>): void;
  close(): Promise<void>;
}

/** A book that lasts as long as the process (the default). */
export class MemoryUsedNamespaces implements UsedNamespaces {
  protected current: string[] = [];

  ids(): readonly string[] {
    return this.current;
  }

  set(ids: Iterable<string>): void {
    const next = [...new Set(ids)].sort();
    if (next.length === this.current.length && next.every((id, i) => id === this.current[i])) return;
    this.current = next;
    this.changed();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  protected changed(): void {}
}
