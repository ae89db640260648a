/**
 * What a row says: the lines of text of an interface, route or ARP entry, its state in words, what a
 * plan does to it, and the subtitle of a namespace box. Pure.
 */
import type {
  PlanEntry,
  TopologyArp,
  TopologyInterface,
  TopologyItem,
  TopologyNamespace,
  TopologyRoute,
} from '../contract/topology.js';
import { ROW_CHARS, type TextLine } from './scene.js';
import { truncate, wrap } from './text.js';

/** Id of the box holding the items whose value never was valid. */
export const UNPLACED_ID = '!unplaced';

export function stateLines(item: TopologyItem): TextLine[] {
  if (item.state === 'pending' && item.reason)
    return wrap(`pending: ${item.reason}`, ROW_CHARS).map((text) => ({ text, style: 'pending' }));
  if (item.state === 'failed')
    return wrap(`failed: ${item.error ?? 'unknown error'}`, ROW_CHARS).map((text) => ({
      text,
      style: 'failed',
    }));
  if (item.state === 'invalid') {
    const errors = item.fieldErrors?.map((e) => `${e.field}: ${e.message}`).join('; ') ?? '';
    return wrap(`invalid: ${errors}`, ROW_CHARS).map((text) => ({ text, style: 'invalid' }));
  }
  return [];
}

export function planLines(entry: PlanEntry | undefined): TextLine[] {
  if (!entry) return [];
  return wrap(`plan: ${entry.change} — ${entry.why}`, ROW_CHARS, 3).map((text) => ({ text, style: 'plan' }));
}

export function interfaceLines(item: TopologyInterface, peerName: string | undefined): TextLine[] {
  const name = item.hostIfName !== item.name ? `${item.name} (${item.hostIfName})` : item.name;
  const detail = [
    item.enabled ? 'up' : 'down',
    item.mtu ? `mtu ${item.mtu}` : 'mtu default',
    item.kernel ? `oper ${item.kernel.operState} #${item.kernel.ifindex}` : undefined,
    item.physAddress,
  ].filter(Boolean);
  const lines: TextLine[] = [
    { text: truncate(name, 34), style: 'name' },
    { text: truncate(detail.join(' · '), ROW_CHARS), style: 'detail' },
  ];
  const shown = item.ipAddresses.slice(0, 3);
  for (const address of shown) lines.push({ text: truncate(address, ROW_CHARS), style: 'detail' });
  if (item.ipAddresses.length > shown.length)
    lines.push({ text: `+${item.ipAddresses.length - shown.length} more addresses`, style: 'detail' });
  if (item.peer)
    lines.push({ text: truncate(`↔ peer ${peerName ?? '(not configured)'}`, ROW_CHARS), style: 'peer' });
  if (item.tempIfName) lines.push({ text: truncate(`TAP ${item.tempIfName}`, ROW_CHARS), style: 'detail' });
  return lines;
}

export function routeLines(item: TopologyRoute): TextLine[] {
  const via = [
    item.dst,
    item.gateway ? `via ${item.gateway}` : '',
    item.interface ? `dev ${item.interface}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const extra = [item.metric ? `metric ${item.metric}` : '', item.table ? `table ${item.table}` : '']
    .filter(Boolean)
    .join(' ');
  return [
    { text: truncate(item.name, 34), style: 'name' },
    ...wrap(extra ? `${via} ${extra}` : via, ROW_CHARS, 2).map((text): TextLine => ({
      text,
      style: 'detail',
    })),
  ];
}

export function arpLines(item: TopologyArp): TextLine[] {
  return [
    { text: truncate(item.name, 34), style: 'name' },
    {
      text: truncate(
        `${item.ipAddress} → ${item.hwAddress} dev ${item.interface} ${item.nudState}`,
        ROW_CHARS,
      ),
      style: 'detail',
    },
  ];
}

export function unplacedNamespace(): TopologyNamespace {
  return { id: UNPLACED_ID, kind: 'default', title: 'invalid values (never valid)', available: false };
}

export function namespaceSubtitle(ns: TopologyNamespace): string[] {
  if (ns.id === UNPLACED_ID) return ['no namespace to show them in'];
  if (ns.container)
    return [
      truncate(`container ${ns.container.id.slice(0, 12)} ${ns.container.name} pid ${ns.container.pid}`, 48),
    ];
  if (ns.kind === 'microservice') return ['no running container: not available'];
  return ns.available ? [] : ['not available: its items wait for it'];
}
