/** Builders of kernel-side messages for codec tests. */
import {
  MessageWriter,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
} from '../../../src/netlink/index.js';

/** An NLMSG_ERROR as the kernel builds it: error code, the request (capped or whole), ext-ack TLVs. */
export function buildAck(options: {
  errno: number;
  request: Buffer;
  capped: boolean;
  message?: string;
  offset?: number;
  seq?: number;
}): Buffer {
  const writer = new MessageWriter();
  writer.zeros(NLMSG_HDRLEN);
  writer.u16At(4, NLMSG_ERROR);
  const tlvs = options.message !== undefined || options.offset !== undefined;
  writer.u16At(6, (options.capped ? NLM_F_CAPPED : 0) | (tlvs ? NLM_F_ACK_TLVS : 0));
  writer.u32At(8, options.seq ?? 0);
  const code = writer.zeros(4);
  writer.i32At(code, -options.errno);
  const echoed = options.capped ? options.request.subarray(0, NLMSG_HDRLEN) : options.request;
  const at = writer.zeros((echoed.length + 3) & ~3);
  for (let i = 0; i < echoed.length; i++) writer.u8At(at + i, echoed[i]!);
  if (options.message !== undefined) writer.attrString(NLMSGERR_ATTR_MSG, options.message);
  if (options.offset !== undefined) writer.attrU32(NLMSGERR_ATTR_OFFS, options.offset);
  return writer.finish();
}
