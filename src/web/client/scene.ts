/**
 * What the page draws, in drawing units (1 unit = 1 CSS pixel at zoom 1): namespace boxes with their
 * rows, and VETH lines. layout.ts makes a Scene from a topology; render.ts turns it into SVG.
 */
import type { PlanChange, PlanEntry, TopologyNamespace, TopologyState } from '../contract/topology.js';
import type { Matcher } from './search.js';

export const BOX_WIDTH = 340;
/** Collapsed boxes hold two short lines: narrower, so a large configuration fits the screen. */
export const COLLAPSED_WIDTH = 240;
export const COLUMN_GAP = 110;
export const BOX_GAP = 28;
/** Height of a text line. */
export const LINE = 14;
/** Space above and below the lines of a row. */
export const ROW_PAD = 6;
/** Height of a box's title line. */
export const HEADER_TITLE = 24;
export const MARGIN = 24;
/** Characters of a detail line inside a row (monospace). */
export const ROW_CHARS = 46;

export type LineStyle = 'name' | 'detail' | 'peer' | 'pending' | 'failed' | 'invalid' | 'plan' | 'section';

export interface TextLine {
  text: string;
  style: LineStyle;
}

export interface Row {
  /** Config key; empty for section titles and "more" rows. */
  key: string;
  kind: 'interface' | 'route' | 'arp' | 'section' | 'more';
  state?: TopologyState;
  x: number;
  y: number;
  w: number;
  h: number;
  lines: TextLine[];
  /** Right-aligned tag on the first line (interface type, "route", "arp"). */
  tag?: string;
  match: boolean;
  change?: PlanChange;
}

export interface Box {
  id: string;
  ns: TopologyNamespace;
  x: number;
  y: number;
  w: number;
  h: number;
  collapsed: boolean;
  subtitle: string[];
  /** Where the rows start (below the header). */
  headerHeight: number;
  rows: Row[];
  counts: Record<TopologyState, number>;
  interfaces: number;
  routes: number;
  arps: number;
  matches: number;
  dim: boolean;
  change?: PlanChange;
}

export interface Point {
  x: number;
  y: number;
}

export interface Link {
  id: string;
  a: Point;
  b: Point;
  /** Horizontal direction the line leaves each end: +1 right, -1 left. */
  aDir: 1 | -1;
  bDir: 1 | -1;
  /** VETH pairs drawn by this line (more than one when bundled between collapsed boxes). */
  pairs: [string, string][];
  /** Where along the line its count goes (0 at a, 1 at b): near the end with fewer lines. */
  badgeAt: number;
  state: TopologyState;
  bundled: boolean;
  change?: PlanChange;
}

export interface Scene {
  boxes: Box[];
  links: Link[];
  width: number;
  height: number;
  /** Whether boxes start collapsed (large configuration). */
  collapsedByDefault: boolean;
}

export interface SceneOptions {
  /** Namespace ids whose box the user flipped from the default (collapsed or expanded). */
  toggled: ReadonlySet<string>;
  /** Show routes and ARP entries in the boxes. */
  showL3: boolean;
  matcher?: Matcher;
  /** Plan overlay: what the plan does, by config key or `named-namespace/<name>`. */
  overlay?: ReadonlyMap<string, PlanEntry>;
}
