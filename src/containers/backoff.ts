/**
 * How long the watcher waits before its next attempt to reach Docker. A function of the number of
 * failed attempts so far, so tests inject a constant (or zero) and production gets exponential
 * growth with jitter, capped low: polling a Unix socket is cheap and a restarted dockerd should be
 * noticed within a couple of seconds.
 */
export type Backoff = (failedAttempts: number) => number;

export interface ExponentialBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay randomised (0.2 = ±20 %), so many agents do not retry in step. */
  jitter?: number;
  random?: () => number;
}

export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const { initialMs = 100, maxMs = 2000, factor = 2, jitter = 0.2, random = Math.random } = options;
  return (failedAttempts) => {
    const base = Math.min(maxMs, initialMs * factor ** Math.max(0, failedAttempts));
    const spread = base * jitter * (2 * random() - 1);
    return Math.max(0, Math.round(base + spread));
  };
}
