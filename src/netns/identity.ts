/**
 * A namespace's identity is the device and inode of its nsfs file: every path to one namespace
 * (/proc/PID/ns/net, a bind mount in /var/run/netns, /proc/PID/task/TID/ns/net) shows the same pair,
 * and a namespace created again under the same name gets a new inode.
 */
export interface NamespaceIdentity {
  readonly dev: number;
  readonly ino: number;
}

export function sameNamespace(a: NamespaceIdentity | undefined, b: NamespaceIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** `dev:ino`, for maps and logs. */
export function identityKey(identity: NamespaceIdentity): string {
  return `${identity.dev}:${identity.ino}`;
}
