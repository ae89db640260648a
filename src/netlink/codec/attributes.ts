/**
 * Netlink attributes (struct nlattr: u16 length, u16 type, payload padded to 4 bytes), written with
 * a growable writer and read into a map. Reading is defensive: any inconsistency throws
 * NetlinkCodecError and nothing else.
 */
import { NetlinkCodecError } from '../errors.js';

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Builds one netlink message: header, fixed part, then attributes, possibly nested. */
export class MessageWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(initialSize = 256) {
    this.buffer = Buffer.alloc(initialSize);
  }

  get offset(): number {
    return this.length;
  }

  private reserve(bytes: number): number {
    const start = this.length;
    const needed = start + bytes;
    if (needed > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, start);
      this.buffer = grown;
    }
    this.length = needed;
    return start;
  }

  /** Appends zeroed bytes and returns their offset, for fixed headers filled in place. */
  zeros(bytes: number): number {
    return this.reserve(bytes);
  }

  u8At(offset: number, value: number): void {
    this.buffer.writeUInt8(value & 0xff, offset);
  }
  u16At(offset: number, value: number): void {
    this.buffer.writeUInt16LE(value & 0xffff, offset);
  }
  u32At(offset: number, value: number): void {
    this.buffer.writeUInt32LE(value >>> 0, offset);
  }
  i32At(offset: number, value: number): void {
    this.buffer.writeInt32LE(value | 0, offset);
  }

  attrBytes(type: number, data: Uint8Array): void {
    const start = this.reserve(align4(NLA_HDRLEN + data.length));
    this.buffer.writeUInt16LE(NLA_HDRLEN + data.length, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.set(data, start + NLA_HDRLEN);
  }

  attrU8(type: number, value: number): void {
    const start = this.reserve(8);
    this.buffer.writeUInt16LE(5, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.writeUInt8(value & 0xff, start + 4);
  }

  attrU16(type: number, value: number): void {
    const start = this.reserve(8);
    this.buffer.writeUInt16LE(6, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.writeUInt16LE(value & 0xffff, start + 4);
  }

  attrU32(type: number, value: number): void {
    const start = this.reserve(8);
    this.buffer.writeUInt16LE(8, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.writeUInt32LE(value >>> 0, start + 4);
  }

  attrI32(type: number, value: number): void {
    const start = this.reserve(8);
    this.buffer.writeUInt16LE(8, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.writeInt32LE(value | 0, start + 4);
  }

  /** A NUL-terminated string attribute, as the kernel expects for names and kinds. */
  attrString(type: number, value: string): void {
    const bytes = Buffer.byteLength(value);
    const start = this.reserve(align4(NLA_HDRLEN + bytes + 1));
    this.buffer.writeUInt16LE(NLA_HDRLEN + bytes + 1, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.buffer.write(value, start + NLA_HDRLEN);
    this.buffer.writeUInt8(0, start + NLA_HDRLEN + bytes);
  }

  /** Opens a nested attribute; close it with nestEnd(offset). */
  nestStart(type: number): number {
    const start = this.reserve(NLA_HDRLEN);
    this.buffer.writeUInt16LE(type | NLA_F_NESTED, start + 2);
    return start;
  }

  nestEnd(start: number): void {
    this.buffer.writeUInt16LE(this.length - start, start);
  }

  /** The message so far, with nlmsg_len (the first u32) set to its length. */
  finish(): Buffer {
    this.buffer.writeUInt32LE(this.length, 0);
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Attributes of one level, by type (the last one wins, as in the kernel's nla_parse). Only the
 * position of each is recorded while parsing; a Buffer view is made when one is read. Link messages
 * carry some fifty attributes of which a handful are read, and events come by the thousand, so the
 * index is a plain array of header offsets by type (small integers: no hashing, one allocation
 * for a typical message) rather than a Map (which grew through four rehashes per link message).
 */
export class Attributes {
  /** Offset of each attribute's header in the buffer, by type; holes for types absent. */
  private readonly headers: number[] = [];

  private constructor(private readonly buffer: Buffer) {}

  static parse(buffer: Buffer, start: number, end: number): Attributes {
    const attributes = new Attributes(buffer);
    if (end > buffer.length || start > end) {
      throw new NetlinkCodecError(`attributes span ${start}..${end} outside a ${buffer.length}-byte buffer`);
    }
    const headers = attributes.headers;
    let offset = start;
    while (offset + NLA_HDRLEN <= end) {
      const length = buffer.readUInt16LE(offset);
      const type = buffer.readUInt16LE(offset + 2) & NLA_TYPE_MASK;
      if (length < NLA_HDRLEN || offset + length > end) {
        throw new NetlinkCodecError(`attribute type ${type} at ${offset} has bad length ${length}`);
      }
      headers[type] = offset;
      offset += align4(length);
    }
    return attributes;
  }

  has(type: number): boolean {
    return this.headers[type] !== undefined;
  }

  private lengthOf(type: number): number | undefined {
    const header = this.headers[type];
    return header === undefined ? undefined : this.buffer.readUInt16LE(header) - NLA_HDRLEN;
  }

  private startOf(type: number): number {
    return this.headers[type]! + NLA_HDRLEN;
  }

  bytes(type: number): Buffer | undefined {
    const length = this.lengthOf(type);
    if (length === undefined) return undefined;
    const start = this.startOf(type);
    return this.buffer.subarray(start, start + length);
  }

  /** Where a fixed-size attribute's payload starts, after checking its size. */
  private sized(type: number, size: number): number | undefined {
    const length = this.lengthOf(type);
    if (length === undefined) return undefined;
    if (length < size) {
      throw new NetlinkCodecError(`attribute type ${type} has ${length} bytes, needs ${size}`);
    }
    return this.startOf(type);
  }

  u8(type: number): number | undefined {
    const at = this.sized(type, 1);
    return at === undefined ? undefined : this.buffer.readUInt8(at);
  }
  u16(type: number): number | undefined {
    const at = this.sized(type, 2);
    return at === undefined ? undefined : this.buffer.readUInt16LE(at);
  }
  u32(type: number): number | undefined {
    const at = this.sized(type, 4);
    return at === undefined ? undefined : this.buffer.readUInt32LE(at);
  }
  i32(type: number): number | undefined {
    const at = this.sized(type, 4);
    return at === undefined ? undefined : this.buffer.readInt32LE(at);
  }

  /** A string attribute, up to its first NUL. */
  string(type: number): string | undefined {
    const length = this.lengthOf(type);
    if (length === undefined) return undefined;
    const start = this.startOf(type);
    const nul = this.buffer.indexOf(0, start);
    const end = nul === -1 || nul > start + length ? start + length : nul;
    return this.buffer.toString('utf8', start, end);
  }

  nested(type: number): Attributes | undefined {
    const length = this.lengthOf(type);
    if (length === undefined) return undefined;
    const start = this.startOf(type);
    return Attributes.parse(this.buffer, start, start + length);
  }
}
