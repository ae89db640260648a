/**
 * The VETH lines: one per pair between two drawn rows, or one per pair of boxes (with the number of
 * pairs) when an end is in a collapsed box. Each line leaves its ends on the sides facing each other.
 * Pure.
 */
import type { PlanEntry, TopologyInterface, TopologyState } from '../contract/topology.js';
import { HEADER_TITLE, LINE, ROW_PAD, type Box, type Link, type Point, type Row } from './scene.js';

const STATE_RANK: Record<TopologyState, number> = {
  configured: 0,
  removed: 1,
  pending: 2,
  invalid: 3,
  failed: 4,
};

function anchorPoint(anchor: { box: Box; row?: Row }, dir: 1 | -1): Point {
  const { box, row } = anchor;
  const x = dir === 1 ? box.x + box.w : box.x;
  const y = row ? row.y + ROW_PAD + LINE / 2 : box.y + HEADER_TITLE / 2 + 2;
  return { x, y };
}

function worse(a: TopologyState, b: TopologyState): TopologyState {
  return STATE_RANK[a] >= STATE_RANK[b] ? a : b;
}

/** One line per VETH pair between rows; pairs with an end in a collapsed box share one line per box pair. */
export function linkPairs(
  interfaces: TopologyInterface[],
  anchors: Map<string, { box: Box; row?: Row }>,
  overlay: ReadonlyMap<string, PlanEntry> | undefined,
  neighbours: Map<string, Set<string>>,
): Link[] {
  const degree = (box: Box): number => neighbours.get(box.id)?.size ?? 0;
  const byKey = new Map(interfaces.map((i) => [i.key, i]));
  const links = new Map<string, Link>();
  const seen = new Set<string>();
  for (const a of interfaces) {
    if (!a.peer) continue;
    const pairId = [a.key, a.peer].sort().join('\n');
    if (seen.has(pairId)) continue;
    seen.add(pairId);
    const b = byKey.get(a.peer);
    const anchorA = anchors.get(a.key);
    const anchorB = b ? anchors.get(b.key) : undefined;
    if (!b || !anchorA || !anchorB) continue;
    const centerA = anchorA.box.x + anchorA.box.w / 2;
    const centerB = anchorB.box.x + anchorB.box.w / 2;
    // Side by side: facing sides; one above the other (same column, or the same box): both right.
    const aDir: 1 | -1 = centerA < centerB ? 1 : centerA > centerB ? -1 : 1;
    const bDir: 1 | -1 = centerA < centerB ? -1 : 1;
    const bundled = !anchorA.row || !anchorB.row;
    const id = bundled ? [anchorA.box.id, anchorB.box.id].sort().join('\n') : `${a.key}\n${b.key}`;
    const state = worse(a.state, b.state);
    const change = overlay?.get(a.key)?.change ?? overlay?.get(b.key)?.change;
    const existing = links.get(id);
    if (existing) {
      existing.pairs.push([a.key, b.key]);
      existing.state = worse(existing.state, state);
      continue;
    }
    links.set(id, {
      id,
      a: anchorPoint(bundled ? { box: anchorA.box } : anchorA, aDir),
      b: anchorPoint(bundled ? { box: anchorB.box } : anchorB, bDir),
      aDir,
      bDir,
      pairs: [[a.key, b.key]],
      badgeAt:
        degree(anchorA.box) > degree(anchorB.box)
          ? 0.8
          : degree(anchorA.box) < degree(anchorB.box)
            ? 0.2
            : 0.5,
      state,
      bundled,
      ...(change ? { change } : {}),
    });
  }
  return [...links.values()];
}
