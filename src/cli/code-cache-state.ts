/**
 * How the running program was loaded (run-bundle.ts), for /v1/about and support bundles. The runner
 * and the bundle are separate module instances, so the state travels on a global symbol.
 */
export const CODE_CACHE_STATE = Symbol.for('netns-agent.code-cache');

export type CodeCacheState =
  /** Not run from a bundle (dist/src directly, e.g. tests that import the agent). */
  | { state: 'unbundled' }
  | { state: 'off' }
  /** No cache yet for this bundle: this run writes one when it exits. */
  | { state: 'none'; file: string }
  /** V8 refused the cached data (another node version or V8 flags): rewritten at exit. */
  | { state: 'rejected'; file: string }
  | { state: 'accepted'; file: string; bytes: number };

export function codeCacheState(): CodeCacheState {
  return (
    ((globalThis as Record<symbol, unknown>)[CODE_CACHE_STATE] as CodeCacheState | undefined) ?? {
      state: 'unbundled',
    }
  );
}
