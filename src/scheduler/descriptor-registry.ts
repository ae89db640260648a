/** Which descriptor handles a key: the longest matching `keyPrefix`, then the `handles` predicate. */
import type { AnyDescriptor, Descriptor } from './types.js';
import { DescriptorConfigError } from './errors.js';

const MAX_REMEMBERED = 200_000;

export class DescriptorRegistry {
  private readonly byName = new Map<string, AnyDescriptor>();
  private readonly ordered: AnyDescriptor[] = [];
  /**
   * Answers of find(): every item's key is looked up many times (graph, plan, execution, status),
   * each lookup trying every descriptor. Emptied when a descriptor is added, or when it grows past
   * MAX_REMEMBERED (keys come and go; the answer for a key never changes otherwise).
   */
  private readonly found = new Map<string, AnyDescriptor | undefined>();

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
  }

  get(name: string): AnyDescriptor | undefined {
    return this.byName.get(name);
  }

  all(): readonly AnyDescriptor[] {
    return this.ordered;
  }

  /** The descriptor of a key, or undefined when none handles it. */
  find(key: string): AnyDescriptor | undefined {
    if (this.found.has(key)) return this.found.get(key);
    const best = this.match(key);
    if (this.found.size >= MAX_REMEMBERED) this.found.clear();
    this.found.set(key, best);
    return best;
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
