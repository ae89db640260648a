/**
 * Runs a program (netns-agent, netnsctl) from its bundle, dist/bundle/NAME.cjs (scripts/bundle.mjs
 * makes it from dist/src), with a V8 code cache next to it.
 *
 * Why: on a small host, a start of the agent spent ~150 ms loading ~110 modules and the libraries'
 * files, and ~250 ms of its main thread compiling functions (at load, then each function at its
 * first call during the resync). One file, compiled with the bytecode a previous run left, starts
 * ~150 ms sooner and resyncs W1 ~0.4 s sooner (README, "Benchmarks"). Node 20 has no compile cache
 * of its own (module.enableCompileCache is Node 22).
 *
 * The cache is written when the process exits, so it holds what that run compiled: the start, the
 * resync, the applies it did. It is rewritten only when a run compiled clearly more than the cache
 * held. NETNS_AGENT_CODE_CACHE: a directory for the cache files instead of dist/bundle, or "off".
 * Without a bundle (only `tsc` ran), the program runs from dist/src as before.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { CodeCacheFile } from './code-cache.js';
import { CODE_CACHE_STATE, type CodeCacheState } from './code-cache-state.js';

export const CODE_CACHE_ENV = 'NETNS_AGENT_CODE_CACHE';
/** "off": run from dist/src (stack traces name the source files; preload hooks see the modules). */
export const BUNDLE_ENV = 'NETNS_AGENT_BUNDLE';
/** A run that compiled this much more than the cache held rewrites it. */
const GROWTH_TO_REWRITE = 1.05;

export function bundlePath(name: string): string {
  return fileURLToPath(new URL(`../../bundle/${name}.cjs`, import.meta.url));
}

export function runBundle(name: string, unbundled: () => Promise<unknown>): Promise<unknown> {
  const bundle = bundlePath(name);
  if (process.env[BUNDLE_ENV] === 'off' || !existsSync(bundle)) return unbundled();
  // Read as bytes, hashed as bytes, then decoded: on a 3 MB bundle, ~20 ms sooner than reading it
  // as text and hashing the text (which encodes it to UTF-8 again).
  const bytes = readFileSync(bundle);
  const setting = process.env[CODE_CACHE_ENV];
  const cache =
    setting === 'off'
      ? undefined
      : new CodeCacheFile(path.join(setting || path.dirname(bundle), `${name}.cjs.cache`), bytes);
  const source = bytes.toString('utf8');
  const cachedData = cache?.read();
  // The CommonJS wrapper, as node's own loader makes it.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  const state: CodeCacheState = !cache
    ? { state: 'off' }
    : !cachedData
      ? { state: 'none', file: cache.file }
      : script.cachedDataRejected
        ? { state: 'rejected', file: cache.file }
        : { state: 'accepted', file: cache.file, bytes: cachedData.length };
  (globalThis as Record<symbol, unknown>)[CODE_CACHE_STATE] = state;
  if (cache) {
    process.once('exit', () => {
      const data = script.createCachedData();
      if (state.state === 'accepted' && data.length <= state.bytes * GROWTH_TO_REWRITE) return;
      cache.write(data);
    });
  }
  const module = { exports: {} };
  const run = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: object,
    filename: string,
    dirname: string,
  ) => void;
  run(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  return Promise.resolve();
}
