/**
 * Rules for the names that appear in keys and values. Each check returns why a name is refused
 * (a phrase for an error message) or undefined. Pure.
 */

/** IFNAMSIZ is 16 with the terminating NUL. */
export const MAX_HOST_IF_NAME_BYTES = 15;
/** Item names and labels are key segments; long enough for any sensible name. */
export const MAX_ITEM_NAME_BYTES = 255;
/** A named namespace is a file in /var/run/netns: NAME_MAX. */
export const MAX_NAMESPACE_NAME_BYTES = 255;
/** PATH_MAX minus the NUL. */
export const MAX_PATH_BYTES = 4095;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Names of configuration items (last key segment) and agent labels. */
export function itemNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.length > MAX_ITEM_NAME_BYTES || byteLength(name) > MAX_ITEM_NAME_BYTES)
    return `must be at most ${MAX_ITEM_NAME_BYTES} bytes`;
  if (name === '.' || name === '..') return `must not be '${name}'`;
  if (LONE_SURROGATE.test(name))
    return 'must be valid Unicode (it holds a lone surrogate escape, such as \\ud800)';
  // One pass over the characters (names are checked for every key of every change).
  let blank = false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x2f) return "must not contain '/' (it is a key segment)";
    // What a decoder puts for bytes that are not UTF-8 (a key written to etcd as raw bytes): such
    // a name could never be written back, so its item could never be deleted through the agent.
    if (code === 0xfffd) return 'must be valid UTF-8 (it holds U+FFFD, the mark of bytes that are not)';
    if (code < 0x21 || code === 0x7f || (code >= 0x80 && WHITESPACE.test(name[i]!))) blank = true;
  }
  if (blank) return 'must not contain whitespace or control characters';
  return undefined;
}

const WHITESPACE = /\s/;

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * A Linux interface name as the kernel's dev_valid_name() accepts it, and meant literally: 1 to 15
 * bytes, not '.', '..', 'all' or 'default', no '/', ':', '%' or whitespace. The kernel's isspace() also counts byte 0xa0, which occurs
 * inside some UTF-8 characters, so those are refused too.
 */
/** A UTF-16 surrogate without its pair (JSON can spell one, `"\ud800"`): no character at all. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hostIfNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (LONE_SURROGATE.test(name))
    return 'must be valid Unicode (it holds a lone surrogate escape, such as \\ud800)';
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX_HOST_IF_NAME_BYTES) {
    return `is ${bytes.length} bytes long; Linux interface names have at most ${MAX_HOST_IF_NAME_BYTES} bytes`;
  }
  if (name === '.' || name === '..') return `must not be '${name}'`;
  // The names of /proc/sys/net/*/conf/all and .../default: newer kernels refuse them, older ones
  // take them and then clash with those sysctl directories.
  if (name === 'all' || name === 'default')
    return `must not be '${name}' (reserved by the kernel's per-interface settings)`;
  if (name.includes('/') || name.includes(':')) return "must not contain '/' or ':'";
  // The kernel reads '%' as a pattern ("veth%d" becomes the first free veth0, veth1...): the link
  // would never have the name asked for, and the agent would rename it for ever.
  if (name.includes('%')) return "must not contain '%' (the kernel takes it as a pattern such as eth%d)";
  if (bytes.some((b: number) => b === 0 || b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === 0xa0)) {
    return 'must not contain whitespace or NUL';
  }
  return undefined;
}

/** The name of a named (`ip netns`) namespace: a file name in /var/run/netns. */
export function namespaceNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (byteLength(name) > MAX_NAMESPACE_NAME_BYTES) return `must be at most ${MAX_NAMESPACE_NAME_BYTES} bytes`;
  if (name.includes('/')) return "must not contain '/' (it is a file name in /var/run/netns)";
  if (name === '.' || name === '..') return `must not be '${name}'`;
  if (hasControl(name)) return 'must not contain control characters';
  return undefined;
}

/** The MICROSERVICE_LABEL of a container. */
export function microserviceLabelProblem(label: string): string | undefined {
  if (label === '') return 'must not be empty';
  if (byteLength(label) > MAX_ITEM_NAME_BYTES) return `must be at most ${MAX_ITEM_NAME_BYTES} bytes`;
  if (label.includes('/')) return "must not contain '/'";
  if (hasControl(label)) return 'must not contain control characters';
  return undefined;
}

/** A path to a namespace file (e.g. /proc/123/ns/net or a bind mount). */
export function namespaceFileProblem(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (byteLength(path) > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} bytes`;
  if (path.split('/').includes('..')) return "must not contain '..' segments";
  if (hasControl(path)) return 'must not contain control characters';
  return undefined;
}

/** Collapses repeated '/' and '.' segments and drops a trailing '/', so one file has one spelling. */
export function normalizeNamespaceFile(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  return '/' + segments.join('/');
}
