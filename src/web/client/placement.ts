/**
 * Where boxes go: columns such that the drawing is about 16:10, each box into the shortest column;
 * a hub (a box linked to many others) in a column of its own in the middle. Pure.
 */
import type { TopologyInterface } from '../contract/topology.js';
import { BOX_GAP, COLUMN_GAP, MARGIN, type Box } from './scene.js';

/** Columns (a hub's own column included) such that the whole is about 16:10. */
function columnCount(boxes: Box[], columnWidth: number, hubs: number): number {
  const averageHeight = boxes.reduce((s, b) => s + b.h + BOX_GAP, 0) / Math.max(1, boxes.length);
  const ideal = Math.sqrt((boxes.length * averageHeight * 1.6) / columnWidth);
  // With a hub column in the middle, the others split evenly on both sides.
  const others = hubs ? Math.max(2, 2 * Math.round((ideal - 1) / 2)) : Math.round(ideal);
  return Math.max(1, Math.min(boxes.length, others));
}

/**
 * Each box goes into the shortest column. Hubs (boxes linked to many others, like W1's hub
 * namespace) get a column of their own in the middle, vertically centred, so their lines fan out
 * to both sides instead of crossing the whole drawing from a corner.
 */
export function place(boxes: Box[], neighbours: Map<string, Set<string>>): { width: number; height: number } {
  if (boxes.length === 0) return { width: 2 * MARGIN, height: 2 * MARGIN };
  const hubDegree = Math.max(3, 0.3 * (boxes.length - 1));
  const hubs = boxes.filter((b) => (neighbours.get(b.id)?.size ?? 0) >= hubDegree);
  const others = boxes.filter((b) => !hubs.includes(b));
  const columnWidth = Math.max(...boxes.map((b) => b.w)) + COLUMN_GAP;
  const columns = columnCount(others, columnWidth, hubs.length);
  const hubColumn = hubs.length ? Math.floor(columns / 2) : -1;
  const heights = new Array<number>(columns).fill(MARGIN);
  const move = (box: Box, x: number, y: number): void => {
    box.x = x;
    box.y = y;
    for (const row of box.rows) {
      row.x = box.x + 8;
      row.y += box.y;
    }
  };
  for (const box of others) {
    let column = 0;
    for (let c = 1; c < columns; c++) if (heights[c]! < heights[column]!) column = c;
    const shifted = hubs.length && column >= hubColumn ? column + 1 : column;
    move(box, MARGIN + shifted * columnWidth, heights[column]!);
    heights[column] = box.y + box.h + BOX_GAP;
  }
  let height = Math.max(...heights);
  const totalColumns = columns + (hubs.length ? 1 : 0);
  if (hubs.length) {
    const stack = hubs.reduce((s, b) => s + b.h + BOX_GAP, 0);
    let y = Math.max(MARGIN, MARGIN + (height - MARGIN - stack) / 2);
    for (const hub of hubs) {
      move(hub, MARGIN + hubColumn * columnWidth, y);
      y += hub.h + BOX_GAP;
    }
    height = Math.max(height, y);
  }
  return { width: 2 * MARGIN + totalColumns * columnWidth - COLUMN_GAP, height: height + MARGIN };
}

/** Which boxes are linked to which, through VETH pairs. */
export function boxNeighbours(interfaces: TopologyInterface[]): Map<string, Set<string>> {
  const namespaceOf = new Map(interfaces.map((i) => [i.key, i.namespace]));
  const neighbours = new Map<string, Set<string>>();
  for (const i of interfaces) {
    const other = i.peer ? namespaceOf.get(i.peer) : undefined;
    if (!other || other === i.namespace) continue;
    let set = neighbours.get(i.namespace);
    if (!set) neighbours.set(i.namespace, (set = new Set()));
    set.add(other);
  }
  return neighbours;
}
