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
  /**
   * Of a `pid/N` id written down: the start time of the process (clock ticks after boot, as in
   * /proc/N/stat) the agent made something for. A pid the kernel hands to another process while the
   * agent is down is then not taken for it.
   */
  processStart(id: string): number | undefined;
  noteProcessStart(id: string, start: number): void;
  forgetProcessStart(id: string): void;
  /**
   * Resolves once the ids set so far are where the next run reads them (the file written): a
   * namespace named for the first time must be there before anything is made in it, or a kill
   * meanwhile leaves what was made where the next start does not look.
   */
  recorded(): Promise<void>;
  close(): Promise<void>;
}

/** A book that lasts as long as the process (the default). */
export class MemoryUsedNamespaces implements UsedNamespaces {
  protected current: string[] = [];
  protected starts = new Map<string, number>();

  ids(): readonly string[] {
    return this.current;
  }

  set(ids: Iterable<string>): void {
    const next = [...new Set(ids)].sort();
    if (next.length === this.current.length && next.every((id, i) => id === this.current[i])) return;
    this.current = next;
    const kept = new Set(next);
    for (const id of [...this.starts.keys()]) if (!kept.has(id)) this.starts.delete(id);
    this.changed();
  }

  processStart(id: string): number | undefined {
    return this.starts.get(id);
  }

  noteProcessStart(id: string, start: number): void {
    if (this.starts.get(id) === start || !this.current.includes(id)) return;
    this.starts.set(id, start);
    this.changed();
  }

  forgetProcessStart(id: string): void {
    if (this.starts.delete(id)) this.changed();
  }

  recorded(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  protected changed(): void {}
}
