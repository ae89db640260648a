/**
 * `-o table` for what is nested by nature (a plan, the history, the kernel dump): one row per thing
 * a user scans for, the details left to `-o json|yaml`. Pure: the API's answers in, text out.
 */
import type { FileProblem } from './documents.js';
import { table } from './output.js';

interface PlanAnswer {
  summary?: { entries?: { key: string; change: string; why: string }[] };
  assumed?: string;
}

/** KEY CHANGE WHY per item, the file's own invalid items first; "nothing would change" when there is none. */
export function planTable(answer: unknown, problems: FileProblem[]): string {
  const plan = answer as PlanAnswer;
  const rows = [
    ...problems.map((p) => ({
      key: p.key ?? `document ${p.index + 1}`,
      change: 'invalid',
      why:
        typeof p.errors === 'string' ? p.errors : p.errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    })),
    ...(plan.summary?.entries ?? []),
  ];
  // A header alone would read as a table cut short: say it in words.
  const text = rows.length === 0 ? 'nothing would change' : table(rows, ['key', 'change', 'why']);
  return plan.assumed ? `${text}\n(${plan.assumed})` : text;
}

interface HistoryAnswer {
  seq: number;
  causes: string[];
  startedAt: number;
  durationMs: number;
  counts: Record<string, number>;
  errors: unknown[];
}

/** SEQ STARTED MS CAUSES and the operation counts, one row per transaction. */
export function historyTable(answer: unknown): string {
  const rows = (answer as HistoryAnswer[]).map((t) => ({
    seq: t.seq,
    started: new Date(t.startedAt).toISOString(),
    ms: Math.round(t.durationMs),
    causes: t.causes.join(','),
    create: t.counts.create,
    update: t.counts.update,
    delete: t.counts.delete,
    failed: t.counts.failed,
    pending: t.counts.pending,
    invalid: t.counts.invalid,
    errors: t.errors.length,
  }));
  return table(rows, [
    'seq',
    'started',
    'ms',
    'causes',
    'create',
    'update',
    'delete',
    'failed',
    'pending',
    'invalid',
    'errors',
  ]);
}

interface DumpAnswer {
  namespace: string;
  links: {
    index: number;
    name: string;
    mtu?: number;
    mac?: string;
    up?: boolean;
    operState?: string;
    managed?: string;
    configured?: string;
  }[];
  addresses: { index: number; address: string; prefixLength: number }[];
  routes: {
    dst?: string;
    dstLength: number;
    gateway?: string;
    source?: string;
    oif?: number;
    table?: number;
    metric?: number;
    scope?: number;
    managed?: true;
  }[];
  neighbours: { index: number; address: string; mac?: string; state?: number; managed?: true }[];
}

/** rtnetlink's route scopes, as `ip route` names them (universe is the default: not shown). */
const ROUTE_SCOPES: Record<number, string> = { 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
/** Neighbour states (NUD_* bits), as `ip neigh` names them. */
const NEIGHBOUR_STATES: [number, string][] = [
  [0x80, 'PERMANENT'],
  [0x40, 'NOARP'],
  [0x02, 'REACHABLE'],
  [0x04, 'STALE'],
  [0x08, 'DELAY'],
  [0x10, 'PROBE'],
  [0x20, 'FAILED'],
  [0x01, 'INCOMPLETE'],
];

function routeWords(r: DumpAnswer['routes'][number], dev: (index: number | undefined) => string): string {
  return [
    `${r.dst ?? 'default'}${r.dst ? `/${r.dstLength}` : ''}`,
    r.gateway ? `via ${r.gateway}` : '',
    dev(r.oif),
    r.table !== undefined && r.table !== 254 ? `table ${r.table}` : '',
    r.metric ? `metric ${r.metric}` : '',
    r.scope !== undefined && ROUTE_SCOPES[r.scope] ? `scope ${ROUTE_SCOPES[r.scope]}` : '',
    r.source ? `src ${r.source}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** NAMESPACE KIND WHAT MANAGED: every link, address, route and neighbour entry, one per row. */
export function dumpTable(answer: unknown): string {
  const rows: Record<string, unknown>[] = [];
  for (const ns of answer as DumpAnswer[]) {
    const names = new Map(ns.links.map((l) => [l.index, l.name]));
    const dev = (index: number | undefined): string =>
      index === undefined ? '' : `dev ${names.get(index) ?? `#${index}`}`;
    for (const l of ns.links)
      rows.push({
        namespace: ns.namespace,
        kind: 'link',
        what: [
          `${l.name} #${l.index}`,
          l.up === undefined ? '' : l.up ? 'up' : 'down',
          l.mtu === undefined ? '' : `mtu ${l.mtu}`,
          l.mac ?? '',
        ]
          .filter(Boolean)
          .join(' '),
        managed: l.managed ?? (l.configured ? `${l.configured} (configured)` : ''),
      });
    for (const a of ns.addresses)
      rows.push({
        namespace: ns.namespace,
        kind: 'address',
        what: `${a.address}/${a.prefixLength} ${dev(a.index)}`,
      });
    for (const r of ns.routes)
      rows.push({
        namespace: ns.namespace,
        kind: 'route',
        what: routeWords(r, dev),
        managed: r.managed ? 'yes' : '',
      });
    for (const n of ns.neighbours)
      rows.push({
        namespace: ns.namespace,
        kind: 'neighbour',
        what: [
          n.address,
          n.mac ? `lladdr ${n.mac}` : '',
          dev(n.index),
          NEIGHBOUR_STATES.find(([bit]) => ((n.state ?? 0) & bit) !== 0)?.[1] ?? '',
        ]
          .filter(Boolean)
          .join(' '),
        managed: n.managed ? 'yes' : '',
      });
  }
  return table(rows, ['namespace', 'kind', 'what', 'managed']);
}

/**
 * Why an item is in its state, for a table row: an invalid item's field errors first (the refused
 * value is the news), then what became of the value still in effect, if anything did.
 */
export function statusWhy(status: Record<string, unknown>): string {
  const fieldErrors = Array.isArray(status.fieldErrors)
    ? (status.fieldErrors as { field?: string; message?: string }[])
        .map((e) => `${e.field ?? '$'}: ${e.message ?? ''}`)
        .join('; ')
    : '';
  const why =
    typeof status.reason === 'string' ? status.reason : typeof status.error === 'string' ? status.error : '';
  if (fieldErrors === '') return why;
  return why === '' ? fieldErrors : `${fieldErrors} (the value in effect: ${why})`;
}
