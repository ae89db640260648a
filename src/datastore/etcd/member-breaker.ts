/**
 * A per-member circuit breaker for the etcd3 connection pool. etcd3's default opens for 5 s after 3
 * failures, so after an outage of a single-member etcd the agent would wait 5 s more than needed.
 * This one skips a failing member only briefly (default 1 s), which still spares calls the wait on
 * a member that does not answer while others do. It implements etcd3's host policy interface
 * (cockatiel's IPolicy) structurally; etcd3 only calls execute().
 */
import { isRecoverableError, type IOptions } from 'etcd3';
import { DatastoreUnavailableError } from '../errors.js';
import { saysNoLeader, tidyGrpcMessage } from './grpc-message.js';

type HostPolicyFactory = NonNullable<NonNullable<IOptions['faultHandling']>['host']>;
export type HostPolicy = ReturnType<HostPolicyFactory>;

export interface BreakerOptions {
  /** Consecutive connection failures that open the breaker; default 3. */
  failures?: number;
  /** How long an open breaker skips the member; default 1000 ms. */
  openMs?: number;
  now?: () => number;
}

/** The breaker's decisions, apart from etcd3's plumbing. Pure apart from the injected clock. */
export class MemberBreaker {
  readonly member: string;
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openUntil = 0;
  /** What the last connection failure said (e.g. a certificate the member's TLS was refused for). */
  lastFailure: string | undefined;

  constructor(member: string, options: BreakerOptions = {}) {
    this.member = member;
    this.#threshold = Math.max(1, options.failures ?? 3);
    this.#openMs = Math.max(0, options.openMs ?? 1000);
    this.#now = options.now ?? Date.now;
  }

  /** False while the member is being skipped. */
  allows(): boolean {
    return this.#now() >= this.#openUntil;
  }

  succeeded(): void {
    this.#failures = 0;
  }

  /** Counts a failure; only connection-level (recoverable) failures say anything about the member. */
  failed(error: unknown): void {
    if (!(error instanceof Error) || !isRecoverableError(error)) return;
    this.lastFailure = tidyGrpcMessage(error.message);
    this.#failures++;
    if (this.#failures >= this.#threshold) {
      this.#failures = 0;
      this.#openUntil = this.#now() + this.#openMs;
    }
  }
}

const noEvent = () => ({ dispose: () => undefined });

export function memberBreakerPolicy(options: BreakerOptions = {}): HostPolicyFactory {
  return (member) => {
    const breaker = new MemberBreaker(member, options);
    const policy = {
      onSuccess: noEvent,
      onFailure: noEvent,
      async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> {
        if (!breaker.allows()) {
          // What the member said when it was last tried: the reason users need (ECONNREFUSED, a
          // certificate refused), not the breaker's bookkeeping.
          const why = breaker.lastFailure ? `: ${breaker.lastFailure}` : '';
          // Reached, but without a leader: quorum lost, or this member cut off.
          if (saysNoLeader(why))
            throw new DatastoreUnavailableError(
              `etcd member ${member} has no leader (the cluster lost its quorum, or this member is cut off from it)${why}`,
            );
          throw new DatastoreUnavailableError(`etcd member ${member} cannot be reached${why}`);
        }
        try {
          const result = await fn({ signal: new AbortController().signal });
          breaker.succeeded();
          return result;
        } catch (error) {
          breaker.failed(error);
          throw error;
        }
      },
    };
    // `_altReturn` is a type-only marker of IPolicy ("will not actually be defined").
    return policy as unknown as HostPolicy;
  };
}
