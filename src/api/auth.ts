/** Bearer-token check in constant time (the length leak of a fixed-size digest is harmless). */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function tokenMatches(expected: string, authorization: string | undefined): boolean {
  // The scheme's name is case-insensitive (RFC 7235): `bearer` too.
  const match = /^bearer +(.*)$/i.exec(authorization ?? '');
  if (!match) return false;
  return timingSafeEqual(digest(expected), digest(match[1]!));
}
