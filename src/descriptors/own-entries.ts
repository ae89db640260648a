/**
 * Which routes and neighbour entries on links no agent marked are this agent's, as far as this
 * process knows.
 *
 * Every agent on a host gives its routes and neighbour entries one protocol number (ownership.ts),
 * so on a link no agent marked (a host interface, an EXISTING link) the kernel cannot say whose an
 * entry of that number is. A start has to take such entries for its own: the agent may have made
 * them before it stopped (the README says so). After that, the process knows what it made: an
 * entry of that number that appears later on such a link, and that it never made, is another
 * label's (or someone's `ip route add proto 144`), not a leftover to remove. Before this book, every
 * re-read of a namespace's routes (one of ours removed by someone, lost events) removed other
 * labels' entries on host interfaces as if they were ours.
 *
 * What this process cannot know is what a namespace held before it looked: the first read of a
 * namespace's entries takes those over. What appears there once the agent watches it (its kernel
 * events) and that it did not make is someone else's; and after that first read, so is anything
 * else it did not make.
 *
 * By namespace identity (device and inode): two references to one namespace share their entries,
 * and a namespace made again under the same name is a new one, whose first read takes over what
 * it holds.
 */
import { AF_INET6 } from '../netlink/index.js';

export type EntryKind = 'route' | 'neighbour';

/** Where a neighbour entry is: its link and address (a route's place is l3-ops' routePlace). */
export function neighbourPlace(ifindex: number, address: string): string {
  return `${ifindex}\n${address}`;
}

/**
 * Where a route is booked: its place (l3-ops' routePlace), and for IPv6 its link too. IPv4 holds
 * one route at a place; IPv6 holds one per link there (`ip -6 route append`), so ours through one
 * link and another label's through another share a place and must not share an entry here. An
 * IPv6 route naming no interface (the kernel picks the link) is booked without one: `anyLink`.
 */
export function routeEntryPlace(place: string, family: number | undefined, oif: number | undefined): string {
  return family === AF_INET6 ? `${place}\n${oif ?? ''}` : place;
}

/** Where an IPv6 route of ours naming no interface is booked (routeEntryPlace without a link). */
export function anyLinkPlace(place: string, family: number | undefined): string | undefined {
  return family === AF_INET6 ? `${place}\n` : undefined;
}

/** A request (or several at once) making an entry, under way: what the book held before the first. */
interface Making {
  /** The requests for the entry under way. */
  count: number;
  /** Booked before the first of them (ours already: a replace of our own entry). */
  wasMade: boolean;
  /** Known as someone else's before the first of them. */
  wasOther: boolean;
  /** One of them made it. */
  made: boolean;
  /** The entries of our number that appeared meanwhile and that the book took for this one. */
  appeared: Set<string>;
}

export class OwnEntries {
  /** `${kind}\n${identity}\n${place}` of the entries this process made or took over. */
  private readonly made = new Set<string>();
  /** The same, of entries of our number that appeared while watched and that this process did not make. */
  private readonly others = new Set<string>();
  /** `${kind}\n${identity}` of the namespaces whose entries of that kind were read once. */
  private readonly read = new Set<string>();
  /** The entries requests are making now (`making`), by the same ids as `made`. */
  private readonly pending = new Map<string, Making>();

  /**
   * This process has the entry at `place` in the namespace (found as an item wants it): booked.
   * One it asks the kernel for is booked by `making`.
   */
  noteMade(kind: EntryKind, identity: string, place: string): void {
    const id = `${kind}\n${identity}\n${place}`;
    this.made.add(id);
    this.others.delete(id);
  }

  /**
   * `request` makes the entry at `place` (or puts ours back over someone's): booked before it, so
   * that the entry's own event finds it ours. When it fails, nothing was made: the book is as it
   * was before (an entry booked then, ours, stays booked; one known as someone else's is again),
   * and what appeared there meanwhile is someone else's, unless another request for the entry is
   * still under way or made it. Booked and left so, a failed request's place (EEXIST, ENETUNREACH,
   * the namespace gone) made someone else's entry there ours, removed as an orphan at a re-read.
   */
  async making<T>(kind: EntryKind, identity: string, place: string, request: () => Promise<T>): Promise<T> {
    const id = `${kind}\n${identity}\n${place}`;
    let making = this.pending.get(id);
    if (!making) {
      making = {
        count: 0,
        wasMade: this.made.has(id),
        wasOther: this.others.has(id),
        made: false,
        appeared: new Set(),
      };
      this.pending.set(id, making);
    }
    making.count++;
    this.noteMade(kind, identity, place);
    try {
      const result = await request();
      making.made = true;
      return result;
    } finally {
      making.count--;
      // Not when the namespace was let go meanwhile (forgetNamespace): its book went with it.
      if (making.count === 0 && this.pending.get(id) === making) {
        this.pending.delete(id);
        if (!making.made) this.unbook(id, making);
      }
    }
  }

  /** Failed requests for the entry `id` made nothing: the book as it was before them. */
  private unbook(id: string, making: Making): void {
    if (making.wasMade) return;
    this.made.delete(id);
    if (making.wasOther) this.others.add(id);
    for (const other of making.appeared) if (!this.made.has(other)) this.others.add(other);
  }

  /**
   * An entry of our number appeared at `place` (a kernel event): someone else's unless we made it
   * (there, or at `anyLink`: an IPv6 route of ours naming no interface, routeEntryPlace).
   */
  noteAppeared(kind: EntryKind, identity: string, place: string, anyLink?: string): void {
    const id = `${kind}\n${identity}\n${place}`;
    if (!this.madeAt(kind, identity, place, anyLink)) this.others.add(id);
    else for (const making of this.makingAt(kind, identity, place, anyLink)) making.appeared.add(id);
  }

  /** An entry of our number at `place` went (a kernel event): one there later is judged afresh. */
  noteGone(kind: EntryKind, identity: string, place: string, anyLink?: string): void {
    const id = `${kind}\n${identity}\n${place}`;
    this.others.delete(id);
    const there = this.pending.get(id);
    if (there) there.wasOther = false;
    for (const making of this.makingAt(kind, identity, place, anyLink)) making.appeared.delete(id);
  }

  /** The requests under way for the entry at `place` or at `anyLink`. */
  private makingAt(kind: EntryKind, identity: string, place: string, anyLink: string | undefined): Making[] {
    const ats = anyLink === undefined ? [place] : [place, anyLink];
    return ats.flatMap((at) => this.pending.get(`${kind}\n${identity}\n${at}`) ?? []);
  }

  /** This process removed the entry at `place`: one there later is not known to be ours. */
  noteRemoved(kind: EntryKind, identity: string, place: string): void {
    this.made.delete(`${kind}\n${identity}\n${place}`);
  }

  /**
   * Whether an entry of our number at `place`, on a link no agent marked and wanted by no item, is
   * ours to remove: when this process made it; else at the namespace's first read, unless it
   * appeared while watched (taken over, and noted); never later.
   */
  takeOrphan(kind: EntryKind, identity: string, place: string, anyLink?: string): boolean {
    const id = `${kind}\n${identity}\n${place}`;
    if (this.madeAt(kind, identity, place, anyLink)) return true;
    if (this.others.has(id) || this.read.has(`${kind}\n${identity}`)) return false;
    this.made.add(id);
    return true;
  }

  private madeAt(kind: EntryKind, identity: string, place: string, anyLink: string | undefined): boolean {
    if (this.made.has(`${kind}\n${identity}\n${place}`)) return true;
    return anyLink !== undefined && this.made.has(`${kind}\n${identity}\n${anyLink}`);
  }

  /**
   * The agent let the namespace go (no item uses it): what it knew there goes too. The kernel may
   * give a namespace made later the same identity, and ifindexes start again there.
   */
  forgetNamespace(identity: string): void {
    const inIt = (id: string): boolean => id.slice(id.indexOf('\n') + 1).startsWith(`${identity}\n`);
    for (const set of [this.made, this.others]) for (const id of set) if (inIt(id)) set.delete(id);
    for (const id of this.pending.keys()) if (inIt(id)) this.pending.delete(id);
    this.read.delete(`route\n${identity}`);
    this.read.delete(`neighbour\n${identity}`);
  }

  /** The namespace's entries of this kind were read: what appears there from now on is known. */
  noteRead(kind: EntryKind, identity: string): void {
    this.read.add(`${kind}\n${identity}`);
  }
}
