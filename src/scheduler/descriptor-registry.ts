/** Which descriptor handles a key: the longest matching `keyPrefix`, then the `handles` predicate. */
import type { AnyDescriptor, Descriptor } from './types.js';
import { DescriptorConfigError } from './errors.js';

/**
 * Keys remembered by find() per generation: at most twice this many are kept. Keys come and go
 * (an item deleted, a name used once), so the answers are kept in two generations: a full one
 * becomes the previous, and a key looked up again is carried over to the current one; keys not
 * looked up for a generation are dropped with the previous one. Before, one map was emptied only
 * past 200,000 keys: a long-running agent given new names (items put and deleted) kept every key it
 * had ever seen (200,000 keys of ~80 characters: ~36 MiB; the whole heap of the soak's agent was
 * 17-23 MiB).
 */
export const REMEMBERED_PER_GENERATION = 16_384;

export class DescriptorRegistry {
  private readonly byName = new Map<string, AnyDescriptor>();
  private readonly ordered: AnyDescriptor[] = [];
  /**
   * Answers of find(): every item's key is looked up many times (graph, plan, execution, status),
   * each lookup trying every descriptor. Emptied when a descriptor is added (the answer for a key
   * never changes otherwise); in two generations (REMEMBERED_PER_GENERATION).
   */
  private found = new Map<string, AnyDescriptor | undefined>();
  private previous = new Map<string, AnyDescriptor | undefined>();

  register<V, M>(descriptor: Descriptor<V, M>): void {
    const d = descriptor as unknown as AnyDescriptor;
    if (this.byName.has(d.name))
      throw new DescriptorConfigError(`descriptor ${d.name} is already registered`);
    if (d.keyPrefix === undefined && d.handles === undefined) {
      throw new DescriptorConfigError(`descriptor ${d.name} has neither keyPrefix nor handles`);
    }
    this.byName.set(d.name, d);
    this.ordered.push(d);
    this.found.clear();
    this.previous.clear();
  }

  get(name: string): AnyDescriptor | undefined {
    return this.byName.get(name);
  }

  all(): readonly AnyDescriptor[] {
    return this.ordered;
  }

  /** The descriptor of a key, or undefined when none handles it. */
  find(key: string): AnyDescriptor | undefined {
    const known = this.found.get(key);
    if (known !== undefined || this.found.has(key)) return known;
    const best = this.previous.has(key) ? this.previous.get(key) : this.match(key);
    if (this.found.size >= REMEMBERED_PER_GENERATION) {
      this.previous = this.found;
      this.found = new Map();
    }
    this.found.set(key, best);
    return best;
  }

  /** How many keys find() remembers now (at most 2 x REMEMBERED_PER_GENERATION). */
  remembered(): number {
    return this.found.size + this.previous.size;
  }

  private match(key: string): AnyDescriptor | undefined {
    let best: AnyDescriptor | undefined;
    let bestLength = -1;
    for (const d of this.ordered) {
      const length = matchLength(d, key);
      if (length > bestLength) {
        best = d;
        bestLength = length;
      }
    }
    return best;
  }

  /** Descriptors in the order their items must be retrieved (`retrieveAfter` first). */
  retrieveOrder(): AnyDescriptor[] {
    const done = new Set<string>();
    const visiting = new Set<string>();
    const order: AnyDescriptor[] = [];
    const visit = (d: AnyDescriptor): void => {
      if (done.has(d.name)) return;
      if (visiting.has(d.name)) throw new DescriptorConfigError(`retrieveAfter of ${d.name} forms a cycle`);
      visiting.add(d.name);
      for (const name of d.retrieveAfter ?? []) {
        const before = this.byName.get(name);
        if (before) visit(before);
      }
      visiting.delete(d.name);
      done.add(d.name);
      order.push(d);
    };
    for (const d of this.ordered) visit(d);
    return order;
  }
}

/** How specifically `d` matches `key`: the matched prefix length, 0 for `handles` only, -1 for no. */
function matchLength(d: AnyDescriptor, key: string): number {
  let length = -1;
  if (d.keyPrefix === undefined) length = 0;
  else {
    const prefixes = typeof d.keyPrefix === 'string' ? [d.keyPrefix] : d.keyPrefix;
    for (const p of prefixes) if (key.startsWith(p) && p.length > length) length = p.length;
  }
  if (length >= 0 && d.handles !== undefined && !d.handles(key)) return -1;
  return length;
}
