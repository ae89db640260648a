/**
 * A map that also knows its most recently set entry, in constant time, after any deletion. A
 * derived item takes the value of the last parent that set it, and a namespace item can have
 * thousands of parents (every interface, route and ARP entry in that namespace): scanning a Map
 * for its last entry on each change made a teardown or a start-up quadratic in that number.
 */
interface Entry<K, V> {
  key: K;
  value: V;
  previous: Entry<K, V> | undefined;
  next: Entry<K, V> | undefined;
}

export class LastSetMap<K, V> {
  private readonly entries = new Map<K, Entry<K, V>>();
  private newest: Entry<K, V> | undefined;
  private oldest: Entry<K, V> | undefined;

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** The value of the entry set last (among those still there). */
  get last(): V | undefined {
    return this.newest?.value;
  }

  /** Sets the value; the entry becomes the last set, even when the key was there. */
  set(key: K, value: V): void {
    this.delete(key);
    const entry: Entry<K, V> = { key, value, previous: this.newest, next: undefined };
    if (this.newest) this.newest.next = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.entries.set(key, entry);
  }

  delete(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    if (entry.previous) entry.previous.next = entry.next;
    else this.oldest = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    else this.newest = entry.previous;
    return true;
  }

  /** A copy with the same entries in the same order. */
  clone(): LastSetMap<K, V> {
    const copy = new LastSetMap<K, V>();
    for (let entry = this.oldest; entry; entry = entry.next) copy.set(entry.key, entry.value);
    return copy;
  }
}
