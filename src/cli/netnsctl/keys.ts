/** Users may write keys whole or short: `interface/veth1` means the key of veth1 under --label. */
import { configKey, configPrefix, isItemKind } from '../../model/index.js';
import { CliError } from './client.js';

export function expandKey(arg: string, label: string): string {
  if (arg.startsWith('/')) return arg;
  const [kind, ...rest] = arg.split('/');
  if (kind && isItemKind(kind) && rest.length === 1 && rest[0]) {
    try {
      return configKey(label, kind, rest[0]);
    } catch (error) {
      // A name no key can hold (whitespace, too long): bad usage, as a malformed key is. Such a key
      // can still be in the store (written there by another program: `status` shows it invalid, on
      // $key); the whole key, which is taken as written, reaches it.
      const whole = `${configPrefix(label, kind)}${rest[0]}`;
      throw new CliError(
        `${JSON.stringify(arg)} is not a key: ${(error as Error).message} (one that is in the store anyway is reached by its whole key: ${JSON.stringify(whole)})`,
        2,
      );
    }
  }
  throw new CliError(
    `${JSON.stringify(arg)} is not a key: give /vnf-agent/<label>/linux/config/v1/<kind>/<name> or <kind>/<name> (kind: interface, route, arp)`,
    2,
  );
}

/** A prefix for `get`: a whole key, a short key, a kind (`interface`) or nothing (everything). */
export function expandPrefix(arg: string | undefined, label: string): string {
  if (arg === undefined || arg === '') return configPrefix(label);
  if (arg.startsWith('/')) return arg;
  if (isItemKind(arg)) return configPrefix(label, arg);
  return expandKey(arg, label);
}

/**
 * A key as a URL path: each segment percent-encoded, so that a name holding `#`, `?`, `%` or
 * non-ASCII reaches the agent as written (raw, `uat#1` was stored as `uat`, and `del` deleted it).
 */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
