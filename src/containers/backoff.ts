/**
 * How long the watcher waits before its next attempt to reach Docker. Capped low by the watcher
 * (2 s): polling a Unix socket is cheap and a restarted dockerd should be noticed quickly.
 */
export { exponentialBackoff, type Backoff, type ExponentialBackoffOptions } from '../util/backoff.js';

/** The watcher's default: exponential from 100 ms, at most 2 s. */
export const DOCKER_MAX_BACKOFF_MS = 2000;
