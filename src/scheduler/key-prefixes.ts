/**
 * Keys are strings of '/'-separated segments; a prefix dependency names a folder (ends with '/').
 * Finding which folders a key is in costs one lookup per '/' in the key, never a scan of all keys.
 */

/** A folder prefix: the given text with a trailing '/' (added when missing). */
export function folderPrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Calls `visit` with every folder prefix of `key` ("a/", "a/b/" for "a/b/c"), shortest first. */
export function forEachFolderOf(key: string, visit: (prefix: string) => void): void {
  for (let at = key.indexOf('/'); at !== -1; at = key.indexOf('/', at + 1)) {
    visit(key.slice(0, at + 1));
  }
}
