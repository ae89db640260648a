/**
 * A scene (layout.ts) as SVG markup. Built as one string and set at once: for thousands of rows that
 * is several times faster than creating the elements one by one. Every value is escaped; colours and
 * fonts come from style.css through classes (state-*, change-*), so the markup holds no style.
 *
 * What costs is the browser laying out text (about 0.4 ms per row), so only what can be seen gets
 * text: rows outside `area` (the view and a margin) are left out, and when zoomed out too far to
 * read (`detail` false) rows are drawn as coloured bars. Boxes are always there, so the whole stays
 * visible and clickable.
 */
import type { TopologyState } from '../contract/topology.js';
import type { Box, Link, Point, Row, Scene } from './layout.js';
import { truncate } from './text.js';

const LINE = 14;
const ROW_PAD = 6;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const n = (value: number): string => String(Math.round(value * 10) / 10);

/** A VETH line is a cubic curve leaving each end horizontally, on the side the layout chose. */
function controls(link: Link): { x: number; y: number }[] {
  const { a, b } = link;
  const reach = Math.max(50, Math.abs(b.x - a.x) / 2.5);
  return [a, { x: a.x + link.aDir * reach, y: a.y }, { x: b.x + link.bDir * reach, y: b.y }, b];
}

function linkPath(link: Link): string {
  const [a, c1, c2, b] = controls(link) as [Point, Point, Point, Point];
  return `M${n(a.x)},${n(a.y)} C${n(c1.x)},${n(c1.y)} ${n(c2.x)},${n(c2.y)} ${n(b.x)},${n(b.y)}`;
}

/** The point at `t` along the curve (where a bundled line shows its count). */
function pointAt(link: Link, t: number): Point {
  const [a, c1, c2, b] = controls(link) as [Point, Point, Point, Point];
  const u = 1 - t;
  const at = (p0: number, p1: number, p2: number, p3: number): number =>
    u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3;
  return { x: at(a.x, c1.x, c2.x, b.x), y: at(a.y, c1.y, c2.y, b.y) };
}

function renderLink(link: Link): string {
  const classes = ['link', `state-${link.state}`];
  if (link.bundled) classes.push('bundled');
  if (link.change) classes.push(`change-${link.change}`);
  const pairs = link.pairs.map((p) => p.join(' ')).join('|');
  const title =
    link.pairs.length === 1
      ? `VETH pair ${shortKey(link.pairs[0]![0])} ↔ ${shortKey(link.pairs[0]![1])}`
      : `${link.pairs.length} VETH pairs`;
  let out = `<g class="${classes.join(' ')}" data-pairs="${escapeXml(pairs)}"><title>${escapeXml(title)}</title><path d="${linkPath(link)}"/>`;
  if (link.bundled && link.pairs.length > 1) {
    const mid = pointAt(link, link.badgeAt);
    out += `<circle class="link-badge" cx="${n(mid.x)}" cy="${n(mid.y)}" r="11"/><text class="link-count" x="${n(mid.x)}" y="${n(mid.y + 4)}">${link.pairs.length}</text>`;
  }
  return `${out}</g>`;
}

function shortKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export interface DrawOptions {
  /** The part of the drawing to draw in full (the view with a margin); undefined: everything. */
  area?: { x: number; y: number; w: number; h: number };
  /** Text in rows; false when zoomed out too far to read it. */
  detail: boolean;
}

function intersects(area: DrawOptions['area'], x: number, y: number, w: number, h: number): boolean {
  return !area || (x < area.x + area.w && x + w > area.x && y < area.y + area.h && y + h > area.y);
}

function renderRow(row: Row, detail: boolean): string {
  if (row.kind === 'section') {
    return `<text class="l-section" x="${n(row.x + 4)}" y="${n(row.y + LINE)}">${escapeXml(row.lines[0]?.text ?? '')}</text>`;
  }
  if (row.kind === 'more') {
    return `<text class="l-more" x="${n(row.x + 4)}" y="${n(row.y + LINE)}">${escapeXml(row.lines[0]?.text ?? '')}</text>`;
  }
  const classes = ['row', `kind-${row.kind}`, `state-${row.state ?? 'configured'}`];
  if (row.match) classes.push('match');
  if (row.change) classes.push(`change-${row.change}`);
  let out = `<g class="${classes.join(' ')}" data-key="${escapeXml(row.key)}" data-state="${row.state ?? ''}">`;
  out += `<rect class="row-bg" x="${n(row.x)}" y="${n(row.y)}" width="${n(row.w)}" height="${n(row.h)}" rx="4"/>`;
  out += `<rect class="row-bar" x="${n(row.x)}" y="${n(row.y)}" width="4" height="${n(row.h)}" rx="2"/>`;
  if (!detail) return `${out}</g>`;
  out += `<title>${escapeXml(row.lines.map((l) => l.text).join('\n'))}</title>`;
  row.lines.forEach((line, i) => {
    const y = row.y + ROW_PAD + (i + 1) * LINE - 3;
    out += `<text class="l-${line.style}" x="${n(row.x + 12)}" y="${n(y)}">${escapeXml(line.text)}</text>`;
  });
  if (row.tag) {
    out += `<text class="row-tag" x="${n(row.x + row.w - 8)}" y="${n(row.y + ROW_PAD + LINE - 3)}">${escapeXml(row.tag)}</text>`;
  }
  return `${out}</g>`;
}

const STATE_ORDER: TopologyState[] = ['configured', 'pending', 'failed', 'invalid'];

function stateBar(box: Box): string {
  const total = STATE_ORDER.reduce((s, state) => s + box.counts[state], 0);
  if (total === 0) return '';
  let x = box.x + 10;
  const width = box.w - 20;
  let out = '';
  for (const state of STATE_ORDER) {
    const count = box.counts[state];
    if (!count) continue;
    const w = (count / total) * width;
    out += `<rect class="sbar state-${state}" x="${n(x)}" y="${n(box.y + box.headerHeight - 7)}" width="${n(w)}" height="4"/>`;
    x += w;
  }
  return out;
}

function countsText(box: Box): string {
  return STATE_ORDER.filter((s) => box.counts[s] > 0)
    .map((s) => `${box.counts[s]} ${s}`)
    .join(' · ');
}

function membersText(box: Box): string {
  const parts = [`${box.interfaces} interface${box.interfaces === 1 ? '' : 's'}`];
  if (box.routes) parts.push(`${box.routes} route${box.routes === 1 ? '' : 's'}`);
  if (box.arps) parts.push(`${box.arps} ARP`);
  return parts.join(' · ');
}

function renderBox(box: Box, options: DrawOptions): string {
  const classes = ['ns', `kind-${box.ns.kind}`];
  if (box.collapsed) classes.push('collapsed');
  if (box.dim) classes.push('dim');
  if (!box.ns.available) classes.push('unavailable');
  if (box.change) classes.push(`change-${box.change}`);
  if (box.matches > 0) classes.push('has-match');
  let out = `<g class="${classes.join(' ')}" data-ns="${escapeXml(box.id)}">`;
  out += `<rect class="ns-frame" x="${n(box.x)}" y="${n(box.y)}" width="${n(box.w)}" height="${n(box.h)}" rx="8"/>`;
  if (!intersects(options.area, box.x, box.y, box.w, box.h)) return `${out}</g>`;
  out += `<g class="ns-header" data-toggle="${escapeXml(box.id)}"><title>${escapeXml(`${box.ns.title}: click to ${box.collapsed ? 'expand' : 'collapse'}`)}</title>`;
  out += `<rect class="ns-head" x="${n(box.x)}" y="${n(box.y)}" width="${n(box.w)}" height="${n(box.headerHeight)}" rx="8"/>`;
  out += `<text class="ns-chevron" x="${n(box.x + 10)}" y="${n(box.y + 17)}">${box.collapsed ? '▸' : '▾'}</text>`;
  const found = box.matches > 0 ? `${box.matches} found` : '';
  out += `<text class="ns-title" x="${n(box.x + 26)}" y="${n(box.y + 17)}">${escapeXml(truncate(box.ns.title, Math.floor((box.w - 40) / 7.5) - (found ? 8 : 0)))}</text>`;
  if (found)
    out += `<text class="ns-count" x="${n(box.x + box.w - 10)}" y="${n(box.y + 17)}">${found}</text>`;
  box.subtitle.forEach((line, i) => {
    out += `<text class="ns-sub" x="${n(box.x + 26)}" y="${n(box.y + 24 + (i + 1) * LINE - 2)}">${escapeXml(line)}</text>`;
  });
  out += stateBar(box);
  out += '</g>';
  if (box.collapsed) {
    const y = box.y + box.headerHeight;
    out += `<text class="ns-summary" x="${n(box.x + 14)}" y="${n(y + LINE)}">${escapeXml(membersText(box))}</text>`;
    out += `<text class="ns-summary states" x="${n(box.x + 14)}" y="${n(y + 2 * LINE + 2)}">${escapeXml(countsText(box) || 'nothing configured')}</text>`;
  } else {
    for (const row of box.rows)
      if (intersects(options.area, row.x, row.y, row.w, row.h)) out += renderRow(row, options.detail);
  }
  return `${out}</g>`;
}

/** The SVG content of a scene: lines under boxes, so that they never hide a row. */
export function renderScene(scene: Scene, options: DrawOptions = { detail: true }): string {
  const links = scene.links.map(renderLink).join('');
  const boxes = scene.boxes.map((box) => renderBox(box, options)).join('');
  return `<g class="links">${links}</g><g class="boxes">${boxes}</g>`;
}
