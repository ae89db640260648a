/**
 * Prefix ranges. A prefix P covers exactly the keys K with P <= K < prefixEnd(P) in code-point order,
 * which is also the byte order of UTF-8 (how SQLite compares TEXT and etcd compares keys). The end is
 * P with its last code point incremented (dropping trailing U+10FFFF); null means "no upper bound".
 */
const MAX_CODE_POINT = 0x10ffff;
const SURROGATE_FIRST = 0xd800;
const SURROGATE_END = 0xe000;

export function prefixEnd(prefix: string): string | null {
  const codePoints = Array.from(prefix, (ch) => ch.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    const last = codePoints.pop() ?? 0;
    if (last < MAX_CODE_POINT) {
      // The next code point after the last one, skipping the surrogate range (not characters).
      const next = last + 1 === SURROGATE_FIRST ? SURROGATE_END : last + 1;
      return String.fromCodePoint(...codePoints, next);
    }
  }
  return null;
}

export function hasPrefix(key: string, prefix: string): boolean {
  return key.startsWith(prefix);
}
