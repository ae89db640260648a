/**
 * The rounds of a dry run (POST /v1/plan, `netnsctl plan -f`, the dry run of `apply -f`), with the
 * event loop let go between them. Each round is a whole dry run of the change, ~0.3-0.6 s for W1's
 * 4000 items on the 2-core development machine; W1 takes three rounds, which held the loop ~1-1.5 s
 * in one piece (3x W1: ~4 s), and the HTTP API, kernel events and transactions waited that long.
 * Between rounds they run: a round reads the engine as it is when it starts, as the observation of
 * the kernel before the first round (awaited) already did; each round is whole, a transaction is
 * never seen half planned (the engine plans synchronously).
 */

/** Resolves after the event loop has polled for I/O at least once (two check phases away). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * Runs `planOnce` up to `rounds` times, until `assumeMore` (given the last round's result) says it
 * added nothing to assume; returns the last round's result. The loop turns before each round.
 */
export async function planInRounds<T>(
  rounds: number,
  planOnce: () => T,
  assumeMore: (dry: T) => boolean,
  turn: () => Promise<void> = nextTurn,
): Promise<T> {
  for (let round = 0; ; round++) {
    await turn();
    const dry = planOnce();
    if (round + 1 >= rounds || !assumeMore(dry)) return dry;
  }
}
