/**
 * RTM_GETSTATS: a link's counters without the rest of the link. A link dump carries some fifty
 * attributes per link (~1.5 KB); a stats dump asking for IFLA_STATS_LINK_64 alone carries the
 * struct rtnl_link_stats64 and the ifindex (~0.2 KB), for refreshing counters every few seconds.
 */
import { Attributes } from './attributes.js';
import { AF_UNSPEC, IF_STATS_MSG_LEN, IFLA_STATS_LINK_64 } from './constants.js';
import { beginMessage, type NetlinkMessage } from './message.js';
import { readStats64, type LinkStatistics } from './link.js';
import { NetlinkCodecError } from '../errors.js';

export interface LinkStatsReport {
  index: number;
  stats: LinkStatistics;
}

/** A filter_mask bit of if_stats_msg: IFLA_STATS_FILTER_BIT(attribute). */
const filterBit = (attribute: number): number => 1 << (attribute - 1);

/** RTM_GETSTATS dump request for every link's 64-bit counters. */
export function encodeLinkStatsDump(type: number, flags: number): Buffer {
  const { writer, fixed } = beginMessage(type, flags, IF_STATS_MSG_LEN);
  writer.u8At(fixed, AF_UNSPEC);
  writer.u32At(fixed + 8, filterBit(IFLA_STATS_LINK_64));
  return writer.finish();
}

/** An RTM_NEWSTATS message; undefined when it carries no 64-bit link counters. */
export function decodeLinkStats(message: NetlinkMessage): LinkStatsReport | undefined {
  const payload = message.payload;
  if (payload.length < IF_STATS_MSG_LEN)
    throw new NetlinkCodecError('stats message shorter than if_stats_msg');
  const attributes = Attributes.parse(payload, IF_STATS_MSG_LEN, payload.length);
  const stats = readStats64(attributes.bytes(IFLA_STATS_LINK_64));
  return stats && { index: payload.readUInt32LE(4), stats };
}
