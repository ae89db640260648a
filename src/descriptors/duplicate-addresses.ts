/**
 * IPv6 addresses of ours whose duplicate address detection failed: another host on the link has the
 * address. The kernel keeps such an address, unusable (IFA_F_DADFAILED), and never tries again. The
 * address descriptor takes it off and fails the item; it is added again (a new detection) after a
 * delay that doubles at each failure in a row, so that the item comes back once the other host gave
 * the address up, without re-adding it every second meanwhile.
 */
export class DuplicateAddresses {
  private readonly failures = new Map<string, { count: number; timer: NodeJS.Timeout | undefined }>();
  /** Called when an item's next attempt is due (set by the plugin: the engine tries it again). */
  onDue: (key: string) => void = () => undefined;
  private closed = false;

  constructor(
    private readonly firstDelayMs = 5_000,
    private readonly maxDelayMs = 300_000,
  ) {}

  /** `key`'s address failed detection once more: the delay until it is tried again (scheduled). */
  failed(key: string): number {
    const entry = this.failures.get(key) ?? { count: 0, timer: undefined };
    entry.count++;
    clearTimeout(entry.timer);
    const delay = Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** (entry.count - 1));
    entry.timer = this.closed
      ? undefined
      : setTimeout(() => {
          entry.timer = undefined;
          this.onDue(key);
        }, delay);
    entry.timer?.unref();
    this.failures.set(key, entry);
    return delay;
  }

  /** Whether `key`'s address failed detection since it last passed. */
  has(key: string): boolean {
    return this.failures.has(key);
  }

  /** Detection passed, or the item went: a later failure starts again from the first delay. */
  forget(key: string): void {
    const entry = this.failures.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.failures.delete(key);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.failures.values()) clearTimeout(entry.timer);
    this.failures.clear();
  }
}
