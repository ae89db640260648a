/** A bounded ring of recent transactions: what was planned, what ran, how long, what failed. */
import type { ErrorInfo } from './types.js';
import type { OperationKind } from './plan.js';

export type TransactionCause = 'commit' | 'notify' | 'retry' | 'resync';

export interface OperationRecord {
  kind: OperationKind;
  key: string;
  descriptor: string;
  recreate: boolean;
  why: string;
  outcome: 'done' | 'failed' | 'skipped';
  durationMs: number;
  error?: ErrorInfo;
  /** skipped: what was missing. */
  skippedBecause?: string;
}

export interface TransactionRecord {
  seq: number;
  causes: TransactionCause[];
  /** Clock ms. */
  startedAt: number;
  /** Reading the real state (resync only), planning, executing, in total. */
  retrieveMs: number;
  planMs: number;
  executeMs: number;
  durationMs: number;
  /** Keys looked at: the changed ones and everything depending on them. */
  regionSize: number;
  counts: {
    planned: number;
    create: number;
    update: number;
    delete: number;
    failed: number;
    skipped: number;
    pending: number;
    invalid: number;
  };
  /** The operations in the order they ended (at most `historyOperationLimit`). */
  operations: OperationRecord[];
  operationsOmitted: number;
  /** Failed operations and failed reads of the real state. */
  errors: { key: string; operation: OperationKind | 'retrieve'; error: ErrorInfo }[];
}

export class History {
  private readonly ring: TransactionRecord[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  add(record: TransactionRecord): void {
    if (this.capacity <= 0) return;
    if (this.ring.length < this.capacity) this.ring.push(record);
    else this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  list(): TransactionRecord[] {
    if (this.ring.length < this.capacity) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
