/** Reconnect delays for watchers (injected, so tests can make them instant). */
import type { Backoff } from './types.js';

export interface ExponentialBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0..1: the delay is randomised within ±jitter of its nominal value. */
  jitter?: number;
  random?: () => number;
}

export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 100;
  const maxMs = options.maxMs ?? 5000;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  return (attempt) => {
    const nominal = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
    const spread = nominal * jitter * (2 * random() - 1);
    return Math.max(0, Math.round(nominal + spread));
  };
}

/** Always the same delay; handy in tests. */
export function constantBackoff(ms: number): Backoff {
  return () => ms;
}
