/** Due times of retries, with one timer armed for the earliest. */
import type { Clock } from './types.js';

export class RetryTimer {
  private readonly due = new Map<string, number>();
  private handle: unknown;
  private armedFor = Infinity;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (keys: string[]) => void,
  ) {}

  schedule(key: string, at: number): void {
    if (this.closed) return;
    this.due.set(key, at);
    if (at < this.armedFor) this.arm(at);
  }

  cancel(key: string): void {
    this.due.delete(key);
  }

  close(): void {
    this.closed = true;
    this.due.clear();
    this.disarm();
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    this.handle = this.clock.setTimer(() => this.onTimer(), Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.armedFor = Infinity;
  }

  private onTimer(): void {
    this.handle = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    const keys: string[] = [];
    let next = Infinity;
    for (const [key, at] of this.due) {
      if (at <= now) keys.push(key);
      else if (at < next) next = at;
    }
    for (const key of keys) this.due.delete(key);
    if (next < Infinity) this.arm(next);
    if (keys.length > 0) this.fire(keys);
  }
}

/** The real clock; timers do not keep the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
