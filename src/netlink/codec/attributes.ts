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

/** Attributes of one level, by type (the last one wins, as in the kernel's nla_parse). */
export class Attributes {
  private readonly byType = new Map<number, Buffer>();

  static parse(buffer: Buffer, start: number, end: number): Attributes {
    const attributes = new Attributes();
    if (end > buffer.length || start > end) {
      throw new NetlinkCodecError(`attributes span ${start}..${end} outside a ${buffer.length}-byte buffer`);
    }
    let offset = start;
    while (offset + NLA_HDRLEN <= end) {
      const length = buffer.readUInt16LE(offset);
      const type = buffer.readUInt16LE(offset + 2) & NLA_TYPE_MASK;
      if (length < NLA_HDRLEN || offset + length > end) {
        throw new NetlinkCodecError(`attribute type ${type} at ${offset} has bad length ${length}`);
      }
      attributes.byType.set(type, buffer.subarray(offset + NLA_HDRLEN, offset + length));
      offset += align4(length);
    }
    return attributes;
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  bytes(type: number): Buffer | undefined {
    return this.byType.get(type);
  }

  private sized(type: number, size: number): Buffer | undefined {
    const data = this.byType.get(type);
    if (data === undefined) return undefined;
    if (data.length < size) {
      throw new NetlinkCodecError(`attribute type ${type} has ${data.length} bytes, needs ${size}`);
    }
    return data;
  }

  u8(type: number): number | undefined {
    return this.sized(type, 1)?.readUInt8(0);
  }
  u16(type: number): number | undefined {
    return this.sized(type, 2)?.readUInt16LE(0);
  }
  u32(type: number): number | undefined {
    return this.sized(type, 4)?.readUInt32LE(0);
  }
  i32(type: number): number | undefined {
    return this.sized(type, 4)?.readInt32LE(0);
  }

  /** A string attribute, up to its first NUL. */
  string(type: number): string | undefined {
    const data = this.byType.get(type);
    if (data === undefined) return undefined;
    const nul = data.indexOf(0);
    return data.toString('utf8', 0, nul === -1 ? data.length : nul);
  }

  nested(type: number): Attributes | undefined {
    const data = this.byType.get(type);
    if (data === undefined) return undefined;
    return Attributes.parse(data, 0, data.length);
  }
}
