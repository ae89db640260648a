/**
 * A V8 code cache on disk for a program's bundle (run-bundle.ts). V8 checks that cached data fits
 * its version and flags, but of the source it checks only the length: a rebuilt bundle of the same
 * length would get the old bytecode. So the file starts with a digest of the source it was made
 * from, and data made from any other source is never handed to V8.
 *
 * File layout: MAGIC (8 bytes), SHA-256 of the source (32 bytes), V8's cached data.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

const MAGIC = Buffer.from('NNSCC\x00\x00\x01', 'latin1');
const DIGEST_BYTES = 32;
const HEADER_BYTES = MAGIC.length + DIGEST_BYTES;

/** The source as text or as its UTF-8 bytes (the same digest: a string is hashed as UTF-8). */
export function sourceDigest(source: string | Uint8Array): Buffer {
  return createHash('sha256').update(source).digest();
}

export function encodeCodeCache(digest: Buffer, data: Buffer): Buffer {
  return Buffer.concat([MAGIC, digest, data]);
}

/** V8's data from a cache file's contents, when it was made from the source with this digest. */
export function decodeCodeCache(contents: Buffer, digest: Buffer): Buffer | undefined {
  if (contents.length <= HEADER_BYTES) return undefined;
  if (!contents.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (!contents.subarray(MAGIC.length, HEADER_BYTES).equals(digest)) return undefined;
  return contents.subarray(HEADER_BYTES);
}

/** One program's cache file. Reading and writing never throw: without a cache, V8 compiles. */
export class CodeCacheFile {
  readonly #digest: Buffer;

  constructor(
    readonly file: string,
    source: string | Uint8Array,
  ) {
    this.#digest = sourceDigest(source);
  }

  /**
   * V8 runs cached bytecode unchecked, and the daemon runs as root: a cache that someone else could
   * have written (not owned by this user or root, or writable by group or others) is not used.
   */
  read(): Buffer | undefined {
    try {
      const stat = statSync(this.file);
      if (stat.uid !== process.getuid?.() && stat.uid !== 0) return undefined;
      if ((stat.mode & 0o022) !== 0) return undefined;
      return decodeCodeCache(readFileSync(this.file), this.#digest);
    } catch {
      return undefined; // none yet, or not readable
    }
  }

  /** Replaces the file whole (several processes of one program may write it at once). */
  write(data: Buffer): boolean {
    // A fresh name, created exclusively: never through a link someone left under a guessable name.
    const temporary = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(temporary, encodeCodeCache(this.#digest, data), { mode: 0o644, flag: 'wx' });
      renameSync(temporary, this.file);
      return true;
    } catch {
      try {
        unlinkSync(temporary);
      } catch {
        // never made
      }
      return false; // e.g. a read-only installation: the program runs without a cache
    }
  }
}
