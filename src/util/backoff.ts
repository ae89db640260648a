/**
 * Delays before the next attempt to reach something (etcd, Docker), as a function of the failed
 * attempts so far: tests inject a constant (or zero), production gets exponential growth with
 * jitter, so that many agents do not retry in step.
 */
export type Backoff = (failedAttempts: number) => number;

export interface ExponentialBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay randomised (0.2 = ±20 %). */
  jitter?: number;
  random?: () => number;
}

export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const { initialMs = 100, maxMs = 5000, factor = 2, jitter = 0.2, random = Math.random } = options;
  return (failedAttempts) => {
    const nominal = Math.min(maxMs, initialMs * factor ** Math.max(0, failedAttempts));
    const spread = nominal * jitter * (2 * random() - 1);
    return Math.max(0, Math.round(nominal + spread));
  };
}

/** Always the same delay; handy in tests. */
export function constantBackoff(ms: number): Backoff {
  return () => ms;
}
