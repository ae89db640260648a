/** Exponential backoff of retriable failures, with a cap. */
export interface RetryOptions {
  /** Delay before the first retry. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest delay. Default 30 s. */
  maxDelayMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
  /** Failures in a row after which an item is no longer retried. Default: no limit. */
  maxRetries?: number;
}

export class RetryPolicy {
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly maxRetries: number;

  constructor(options: RetryOptions = {}) {
    this.initial = options.initialDelayMs ?? 100;
    this.max = options.maxDelayMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.maxRetries = options.maxRetries ?? Infinity;
  }

  /** Delay before the next attempt after `failures` failures in a row, or undefined: give up. */
  delay(failures: number): number | undefined {
    if (failures > this.maxRetries) return undefined;
    return Math.min(this.max, this.initial * this.factor ** Math.max(0, failures - 1));
  }
}
