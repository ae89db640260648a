/**
 * What the links of others were before we configured them (EXISTING, LOOPBACK, AUTO_TAP), kept
 * where a restart finds them again. The kernel keeps no trace of it (such links bear no mark of
 * ours), so without this book an agent restarted after configuring ex0's MTU would take our MTU for
 * the owner's, and could not undo it; and an EXISTING item removed from the store while the agent
 * was down would never be undone at all.
 *
 * A link is known by its namespace's identity (device and inode of the namespace file) and its
 * ifindex, both stable while the namespace lives; a recorded link that is no longer there is
 * forgotten when a resync sees its namespace.
 */
export interface LinkOriginal {
  mtu: number;
  mac?: string;
  up: boolean;
  name: string;
}

export type ForeignLinkType = 'EXISTING' | 'LOOPBACK' | 'AUTO_TAP';

export interface RecordedOriginal {
  /** The config key of the item that configured the link. */
  key: string;
  type: ForeignLinkType;
  namespaceId: string;
  namespaceIdentity: string;
  ifindex: number;
  /** The link's name while configured (its host name). */
  hostIfName: string;
  original: LinkOriginal;
  /** What we set on it: the entry is believed only while the link still has it. */
  set?: { mtu?: number; mac?: string; up?: boolean };
  /**
   * What we had set before `set`, while the link may still have it: a new value is recorded when a
   * resync finds the link, before it is applied (the value changed while the agent was down).
   */
  setBefore?: { mtu?: number; mac?: string; up?: boolean };
  /** Addresses we added to it (CIDR), to be taken off again. */
  addresses?: string[];
}

export interface OriginalsBook {
  all(): RecordedOriginal[];
  get(namespaceIdentity: string, ifindex: number): RecordedOriginal | undefined;
  record(entry: RecordedOriginal): void;
  forget(namespaceIdentity: string, ifindex: number): void;
  /** An address we added to a recorded link (`added`), or took off it. */
  noteAddress(namespaceIdentity: string, ifindex: number, cidr: string, added: boolean): void;
}

export function originalKey(namespaceIdentity: string, ifindex: number): string {
  return `${namespaceIdentity}#${ifindex}`;
}

/** A book that lasts as long as the process (the default; the agent keeps its book in a file). */
export class MemoryOriginals implements OriginalsBook {
  protected readonly entries = new Map<string, RecordedOriginal>();

  all(): RecordedOriginal[] {
    return [...this.entries.values()];
  }

  get(namespaceIdentity: string, ifindex: number): RecordedOriginal | undefined {
    return this.entries.get(originalKey(namespaceIdentity, ifindex));
  }

  record(entry: RecordedOriginal): void {
    const key = originalKey(entry.namespaceIdentity, entry.ifindex);
    const { addresses, ...rest } = entry;
    const normalized = addresses?.length ? { ...rest, addresses } : rest;
    // A resync records what it finds each time: the file is written only when something changed.
    if (JSON.stringify(this.entries.get(key)) === JSON.stringify(normalized)) return;
    this.entries.set(key, normalized);
    this.changed();
  }

  noteAddress(namespaceIdentity: string, ifindex: number, cidr: string, added: boolean): void {
    const entry = this.get(namespaceIdentity, ifindex);
    if (!entry || (entry.addresses?.includes(cidr) ?? false) === added) return;
    const others = (entry.addresses ?? []).filter((a) => a !== cidr);
    this.record({ ...entry, addresses: added ? [...others, cidr] : others });
  }

  forget(namespaceIdentity: string, ifindex: number): void {
    if (this.entries.delete(originalKey(namespaceIdentity, ifindex))) this.changed();
  }

  /** Called after each change (a subclass persists the book). */
  protected changed(): void {}
}
