/**
 * The netlink message header (struct nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid) and
 * acknowledgements (struct nlmsgerr, with extended-ack attributes). A datagram from the kernel may
 * hold several messages; splitMessages() cuts it.
 */
import { Attributes, MessageWriter, align4 } from './attributes.js';
import {
  NLMSG_DONE,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
} from './constants.js';
import { NetlinkCodecError } from '../errors.js';

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  portId: number;
  /** The bytes after the header, up to nlmsg_len. */
  payload: Buffer;
}

/** Starts a request: the header (length, seq and port filled in later) and a zeroed fixed part. */
export function beginMessage(
  type: number,
  flags: number,
  fixedLength: number,
): {
  writer: MessageWriter;
  fixed: number;
} {
  const writer = new MessageWriter(align4(NLMSG_HDRLEN + fixedLength) + 128);
  writer.zeros(NLMSG_HDRLEN);
  writer.u16At(4, type);
  writer.u16At(6, flags);
  const fixed = writer.zeros(align4(fixedLength));
  return { writer, fixed };
}

/** Offsets of the header fields the socket patches when it sends a request. */
export const HEADER_TYPE_OFFSET = 4;
export const HEADER_FLAGS_OFFSET = 6;
export const HEADER_SEQ_OFFSET = 8;

export function splitMessages(datagram: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= datagram.length) {
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN || offset + length > datagram.length) {
      throw new NetlinkCodecError(`message at ${offset} has bad length ${length}`);
    }
    messages.push({
      type: datagram.readUInt16LE(offset + 4),
      flags: datagram.readUInt16LE(offset + 6),
      seq: datagram.readUInt32LE(offset + 8),
      portId: datagram.readUInt32LE(offset + 12),
      payload: datagram.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += align4(length);
  }
  return messages;
}

export interface Acknowledgement {
  /** 0 for success, otherwise the positive errno. */
  errno: number;
  /** The kernel's extended-ack message, if any. */
  message?: string;
  /** Byte offset of the offending attribute in the request, if the kernel said. */
  attributeOffset?: number;
}

/** Decodes the payload of an NLMSG_ERROR message (also used for NLMSG_DONE's error code). */
export function decodeAcknowledgement(message: NetlinkMessage): Acknowledgement {
  const payload = message.payload;
  if (payload.length < 4) throw new NetlinkCodecError('acknowledgement shorter than its error code');
  // 0 - x, not -x: a success must be +0, not -0 (Object.is(-0, 0) is false).
  const errno = 0 - payload.readInt32LE(0);
  const ack: Acknowledgement = { errno };
  if ((message.flags & NLM_F_ACK_TLVS) === 0) return ack;
  // In an NLMSG_ERROR, the request's header (whole request unless NLM_F_CAPPED) follows the error
  // code; an NLMSG_DONE ending a failed dump has the attributes right after the code.
  let tlvStart = message.type === NLMSG_DONE ? 4 : 4 + NLMSG_HDRLEN;
  if (tlvStart > payload.length) return ack;
  if (message.type !== NLMSG_DONE && (message.flags & NLM_F_CAPPED) === 0) {
    const requestLength = payload.readUInt32LE(4);
    // An echoed request that does not fit is malformed; checked before align4, whose 32-bit
    // arithmetic turns lengths >= 2^31 negative.
    if (requestLength < NLMSG_HDRLEN || requestLength > payload.length - 4) return ack;
    tlvStart = 4 + align4(requestLength);
  }
  if (tlvStart > payload.length) return ack;
  const attributes = Attributes.parse(payload, tlvStart, payload.length);
  const text = attributes.string(NLMSGERR_ATTR_MSG);
  if (text) ack.message = text;
  const offset = attributes.u32(NLMSGERR_ATTR_OFFS);
  if (offset !== undefined) ack.attributeOffset = offset;
  return ack;
}
