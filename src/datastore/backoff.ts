/** Reconnect delays for watchers (injected, so tests can make them instant). */
export { constantBackoff, exponentialBackoff, type ExponentialBackoffOptions } from '../util/backoff.js';
