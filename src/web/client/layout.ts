/**
 * Where everything goes: a topology becomes namespace boxes (with their interface, route and ARP
 * rows), placed in columns (placement.ts), and lines between the two ends of every VETH pair
 * (links.ts). Large configurations start collapsed: a collapsed box shows its counts, and the pairs
 * between two boxes are drawn as one line with their number. A search opens the boxes it finds
 * something in, on just the rows it found. Pure (no DOM), so it can be timed on a W1-sized topology.
 */
import type {
  Topology,
  TopologyArp,
  TopologyInterface,
  TopologyItem,
  TopologyNamespace,
  TopologyRoute,
  TopologyState,
} from '../contract/topology.js';
import { linkPairs } from './links.js';
import { boxNeighbours, place } from './placement.js';
import {
  arpLines,
  interfaceLines,
  namespaceSubtitle,
  planLines,
  routeLines,
  stateLines,
  unplacedNamespace,
  UNPLACED_ID,
} from './rows.js';
import {
  BOX_WIDTH,
  COLLAPSED_WIDTH,
  HEADER_TITLE,
  LINE,
  ROW_PAD,
  type Box,
  type Row,
  type Scene,
  type SceneOptions,
  type TextLine,
} from './scene.js';
import { arpFields, interfaceFields, namespaceFields, routeFields } from './search.js';

export type { Box, Link, Point, Row, Scene, SceneOptions } from './scene.js';

/** Rows drawn per box at most; the rest is counted (search narrows it down). */
export const MAX_ROWS = 150;
/** Boxes start collapsed above these sizes. */
export const COLLAPSE_NAMESPACES = 20;
export const COLLAPSE_INTERFACES = 200;

interface Members {
  interfaces: TopologyInterface[];
  routes: TopologyRoute[];
  arps: TopologyArp[];
}

/** An item that may become a row of its box. */
interface Candidate {
  item: TopologyItem;
  kind: Row['kind'];
  lines: TextLine[];
  tag: string;
  /** What the search looks at. */
  fields: (string | undefined)[];
}

/** What the boxes are built from: members by namespace, interfaces by key, namespace titles. */
interface Context {
  topology: Topology;
  options: SceneOptions;
  collapsedByDefault: boolean;
  members: Map<string, Members>;
  interfaceByKey: Map<string, TopologyInterface>;
  titleOf: Map<string, string>;
  /** Interface key -> the box and row it is drawn in (row undefined: only the box). */
  anchors: Map<string, { box: Box; row?: Row }>;
}

function emptyCounts(): Record<TopologyState, number> {
  return { configured: 0, pending: 0, failed: 0, invalid: 0, removed: 0 };
}

function groupMembers(topology: Topology): Map<string, Members> {
  const members = new Map<string, Members>();
  const of = (id: string): Members => {
    let m = members.get(id);
    if (!m) members.set(id, (m = { interfaces: [], routes: [], arps: [] }));
    return m;
  };
  for (const item of topology.interfaces) of(item.namespace).interfaces.push(item);
  for (const item of topology.routes) of(item.namespace).routes.push(item);
  for (const item of topology.arps) of(item.namespace).arps.push(item);
  return members;
}

/** The interfaces (and never-valid items) of a box, and its routes and ARP entries apart. */
function candidatesOf(ns: TopologyNamespace, ctx: Context): { main: Candidate[]; l3: Candidate[] } {
  const m = ctx.members.get(ns.id) ?? { interfaces: [], routes: [], arps: [] };
  const main: Candidate[] = m.interfaces.map((item) => {
    const peer = item.peer ? ctx.interfaceByKey.get(item.peer) : undefined;
    const peerName = peer
      ? `${peer.name} in ${ctx.titleOf.get(peer.namespace) ?? peer.namespace}`
      : undefined;
    const lines = interfaceLines(item, peerName);
    return { item, kind: 'interface', lines, tag: item.type, fields: interfaceFields(item) };
  });
  if (ns.id === UNPLACED_ID) {
    for (const item of ctx.topology.unplaced) {
      const lines: TextLine[] = [{ text: item.name, style: 'name' }];
      main.push({ item, kind: item.kind, lines, tag: item.kind, fields: [item.name, item.key] });
    }
  }
  const l3: Candidate[] = [
    ...m.routes.map((item): Candidate => ({
      item,
      kind: 'route',
      lines: routeLines(item),
      tag: 'route',
      fields: routeFields(item),
    })),
    ...m.arps.map((item): Candidate => ({
      item,
      kind: 'arp',
      lines: arpLines(item),
      tag: 'arp',
      fields: arpFields(item),
    })),
  ];
  return { main, l3 };
}

function textRow(kind: 'section' | 'more', y: number, text: string, style: TextLine['style']): Row {
  return { key: '', kind, x: 0, y, w: BOX_WIDTH - 16, h: LINE + 8, lines: [{ text, style }], match: false };
}

/** Rows of an expanded box, from `y` down; returns where they end. */
function addRows(
  box: Box,
  shown: Candidate[],
  total: number,
  y: number,
  ctx: Context,
  onlyFound: boolean,
): number {
  const { matcher, overlay, showL3 } = ctx.options;
  let count = 0;
  let section: Row['kind'] | undefined;
  for (const c of shown) {
    if (count >= MAX_ROWS) break;
    if (showL3 && !onlyFound && c.kind !== 'interface' && c.kind !== section) {
      section = c.kind;
      box.rows.push(textRow('section', y, c.kind === 'route' ? 'routes' : 'ARP entries', 'section'));
      y += LINE + 8;
    }
    const planned = overlay?.get(c.item.key);
    const lines = [...c.lines, ...stateLines(c.item), ...planLines(planned)];
    const row: Row = {
      key: c.item.key,
      kind: c.kind,
      state: c.item.state,
      x: 0,
      y,
      w: BOX_WIDTH - 16,
      h: ROW_PAD * 2 + lines.length * LINE,
      lines,
      tag: c.tag,
      match: matcher !== undefined && matcher(c.fields),
      ...(planned ? { change: planned.change } : {}),
    };
    box.rows.push(row);
    if (c.kind === 'interface') ctx.anchors.set(c.item.key, { box, row });
    y += row.h + 4;
    count++;
  }
  if (total > count) {
    const why = onlyFound ? 'not matching the search' : 'search to narrow down';
    box.rows.push(textRow('more', y, `… ${total - count} more (${why})`, 'detail'));
    y += LINE + 12;
  }
  return y;
}

function buildBox(ns: TopologyNamespace, ctx: Context): Box {
  const { matcher, overlay, showL3, toggled } = ctx.options;
  const m = ctx.members.get(ns.id);
  const box: Box = {
    id: ns.id,
    ns,
    x: 0,
    y: 0,
    w: BOX_WIDTH,
    h: 0,
    collapsed: ctx.collapsedByDefault !== toggled.has(ns.id),
    subtitle: namespaceSubtitle(ns),
    headerHeight: 0,
    rows: [],
    counts: emptyCounts(),
    interfaces: m?.interfaces.length ?? 0,
    routes: m?.routes.length ?? 0,
    arps: m?.arps.length ?? 0,
    matches: 0,
    dim: false,
  };
  const change =
    ns.kind === 'named' ? overlay?.get(`named-namespace/${ns.id.slice('named/'.length)}`)?.change : undefined;
  if (change) box.change = change;
  const { main, l3 } = candidatesOf(ns, ctx);
  for (const c of [...main, ...l3]) box.counts[c.item.state]++;

  // A search opens the boxes it finds something in: a box found by its own name whole, others on
  // just the rows found; the rest is dimmed and folded.
  const nsFound = matcher ? matcher(namespaceFields(ns)) : true;
  const found = matcher ? [...main, ...l3].filter((c) => matcher(c.fields)) : [];
  const onlyFound = matcher !== undefined && !nsFound;
  if (matcher) {
    box.matches = found.length + (nsFound ? 1 : 0);
    box.dim = onlyFound && found.length === 0;
    box.collapsed = box.dim;
  }
  box.headerHeight = HEADER_TITLE + box.subtitle.length * LINE + 10;
  if (box.collapsed) {
    box.w = COLLAPSED_WIDTH;
    box.h = box.headerHeight + 2 * LINE + 10;
  } else {
    const all = [...main, ...(showL3 ? l3 : [])];
    const shown = onlyFound ? found : all;
    const end = addRows(box, shown, onlyFound ? all.length : shown.length, box.headerHeight, ctx, onlyFound);
    box.h = Math.max(end + 8, box.headerHeight + 2 * LINE + 10);
  }
  // Interfaces without a row of their own anchor their lines on the box.
  for (const c of main)
    if (c.kind === 'interface' && !ctx.anchors.has(c.item.key)) ctx.anchors.set(c.item.key, { box });
  return box;
}

/** Everything drawn, for a topology and the view's options. */
export function layoutScene(topology: Topology, options: SceneOptions): Scene {
  const collapsedByDefault =
    topology.namespaces.length > COLLAPSE_NAMESPACES || topology.interfaces.length > COLLAPSE_INTERFACES;
  const namespaces = [...topology.namespaces, ...(topology.unplaced.length ? [unplacedNamespace()] : [])];
  const ctx: Context = {
    topology,
    options,
    collapsedByDefault,
    members: groupMembers(topology),
    interfaceByKey: new Map(topology.interfaces.map((i) => [i.key, i])),
    titleOf: new Map(namespaces.map((n) => [n.id, n.title])),
    anchors: new Map(),
  };
  const boxes = namespaces.map((ns) => buildBox(ns, ctx));
  const neighbours = boxNeighbours(topology.interfaces);
  const { width, height } = place(boxes, neighbours);
  const links = linkPairs(topology.interfaces, ctx.anchors, options.overlay, neighbours);
  return { boxes, links, width, height, collapsedByDefault };
}
