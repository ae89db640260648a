/**
 * The topology page: fetches GET /v1/topology, draws it, and keeps it current from /v1/events.
 * Events only mark the data stale: one refresh runs at a time, at most every REFRESH_DELAY_MS (or
 * three times as long as the last one took, so that a W1-sized answer cannot keep the agent busy), an
 * unchanged answer draws nothing, and drawing happens on the next animation frame, so a burst of a
 * thousand state changes costs a few redraws, not a thousand. Layout (where things go) runs when the
 * data or the options change; drawing (render.ts) also when the view moves out of what was drawn.
 */
import type { Topology } from '../contract/topology.js';
import { getJson, storedToken, storeToken, TokenNeededError } from './api.js';
import { byId } from './dom.js';
import { followEvents, type StreamStatus } from './events.js';
import { layoutScene, type Scene } from './layout.js';
import { SidePanel } from './panel.js';
import type { PlanView } from './plan.js';
import { wirePlanDrawer } from './plan-drawer.js';
import { renderScene } from './render.js';
import { matcherFor } from './search.js';
import { Viewport, type Rect } from './viewport.js';

const REFRESH_DELAY_MS = 150;
const SEARCH_DELAY_MS = 120;
/** After a failed refresh (agent restarting, network), the next try. */
const RETRY_MS = 2000;
/** Below this many pixels per unit, row text is too small to read and is not drawn. */
const DETAIL_SCALE = 0.45;
/** Drawn beyond the view on every side, as a share of its size, so that small pans redraw nothing. */
const DRAW_MARGIN = 0.5;

interface ViewState {
  topology: Topology | undefined;
  plan: PlanView | undefined;
  toggled: Set<string>;
  showL3: boolean;
  query: string;
  scene: Scene | undefined;
  renders: number;
  /** The last topology text, to skip drawing an unchanged answer. */
  topologyText: string;
  /** What the last drawing covered. */
  drawn: { area: Rect; detail: boolean } | undefined;
}

const state: ViewState = {
  topology: undefined,
  plan: undefined,
  toggled: new Set(),
  showL3: false,
  query: '',
  scene: undefined,
  renders: 0,
  topologyText: '',
  drawn: undefined,
};

const svg = document.getElementById('canvas') as unknown as SVGSVGElement;
const viewport = new Viewport(svg);
const panel = new SidePanel(byId('panel'), () => markSelected());
let stopEvents: (() => void) | undefined;

// ---- drawing -------------------------------------------------------------------------------------

let frame: number | undefined;
let layoutNeeded = false;
function scheduleRender(): void {
  layoutNeeded = true;
  scheduleDraw();
}

function scheduleDraw(): void {
  if (frame !== undefined) return;
  frame = requestAnimationFrame(() => {
    frame = undefined;
    if (layoutNeeded) layout();
    draw();
  });
}

function shownTopology(): Topology | undefined {
  return state.plan?.topology ?? state.topology;
}

function layout(): void {
  layoutNeeded = false;
  const topology = shownTopology();
  if (!topology) return;
  const matcher = matcherFor(state.query);
  state.scene = layoutScene(topology, {
    toggled: state.toggled,
    showL3: state.showL3,
    ...(matcher ? { matcher } : {}),
    ...(state.plan ? { overlay: state.plan.overlay } : {}),
  });
  state.drawn = undefined;
  viewport.setContent(state.scene.width, state.scene.height);
  byId('label').textContent = topology.label;
  byId('summary').textContent = summaryText(topology);
  document.body.dataset.rows = String(
    state.scene.boxes.reduce((s, b) => s + b.rows.filter((r) => r.key).length, 0),
  );
  if (state.topology) panel.refresh(state.topology);
}

function draw(): void {
  const scene = state.scene;
  if (!scene) return;
  const started = performance.now();
  const view = viewport.visible;
  const area = {
    x: view.x - view.w * DRAW_MARGIN,
    y: view.y - view.h * DRAW_MARGIN,
    w: view.w * (1 + 2 * DRAW_MARGIN),
    h: view.h * (1 + 2 * DRAW_MARGIN),
  };
  const detail = viewport.scale >= DETAIL_SCALE;
  svg.innerHTML = renderScene(scene, { area, detail });
  state.drawn = { area, detail };
  markSelected();
  state.renders++;
  document.body.dataset.renders = String(state.renders);
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
}

/** The view moved: draw again if it left what was drawn, or crossed the readable-text scale. */
function onViewChange(scale: number): void {
  const drawn = state.drawn;
  if (!drawn) return;
  const view = viewport.visible;
  const inside =
    view.x >= drawn.area.x &&
    view.y >= drawn.area.y &&
    view.x + view.w <= drawn.area.x + drawn.area.w &&
    view.y + view.h <= drawn.area.y + drawn.area.h;
  if (!inside || scale >= DETAIL_SCALE !== drawn.detail) scheduleDraw();
}

function summaryText(topology: Topology): string {
  const all = [...topology.interfaces, ...topology.routes, ...topology.arps, ...topology.unplaced];
  const counts = new Map<string, number>();
  for (const item of all) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
  const states = [...counts].map(([s, c]) => `${c} ${s}`).join(', ');
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const members = [
    count(topology.namespaces.length, 'namespace'),
    count(topology.interfaces.length, 'interface'),
    count(topology.routes.length, 'route'),
    `${topology.arps.length} ARP`,
  ];
  return `${members.join(' · ')}${states ? ` (${states})` : ''}`;
}

function markSelected(): void {
  for (const element of svg.querySelectorAll('.selected')) element.classList.remove('selected');
  const selection = panel.selected;
  if (!selection) return;
  const selector =
    selection.type === 'item'
      ? `[data-key="${CSS.escape(selection.key)}"]`
      : `[data-ns="${CSS.escape(selection.id)}"]`;
  svg.querySelector(selector)?.classList.add('selected');
}

// ---- data ----------------------------------------------------------------------------------------

let refreshing = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let lastRefreshMs = 0;
let stale = false;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

function showError(message: string | undefined): void {
  const banner = byId('error');
  banner.hidden = message === undefined;
  banner.textContent = message ?? '';
}

async function refresh(): Promise<void> {
  if (refreshing) {
    stale = true;
    return;
  }
  refreshing = true;
  const started = performance.now();
  try {
    const topology = await getJson<Topology>('/v1/topology');
    showError(undefined);
    const text = JSON.stringify(topology);
    if (text !== state.topologyText) {
      state.topologyText = text;
      state.topology = topology;
      scheduleRender();
    }
  } catch (error) {
    if (error instanceof TokenNeededError) askToken(error.sent);
    else {
      showError(`cannot read the topology: ${String(error)}`);
      retryTimer ??= setTimeout(() => {
        retryTimer = undefined;
        void refresh();
      }, RETRY_MS);
    }
  } finally {
    refreshing = false;
    lastRefreshMs = performance.now() - started;
    if (stale) {
      stale = false;
      scheduleRefresh();
    }
  }
}

function scheduleRefresh(): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = setTimeout(
    () => {
      refreshTimer = undefined;
      void refresh();
    },
    Math.max(REFRESH_DELAY_MS, 3 * lastRefreshMs),
  );
}

function setLive(status: StreamStatus): void {
  const live = byId('live');
  live.textContent = { connecting: 'connecting…', live: 'live', down: 'disconnected', token: 'token needed' }[
    status
  ];
  live.className = `live is-${status}`;
  if (status === 'live') scheduleRefresh();
  if (status === 'token') askToken(storedToken());
}

function startEvents(): void {
  stopEvents?.();
  stopEvents = followEvents({
    onEvent: (type) => {
      if (type === 'state' || type === 'transaction' || type === 'link') scheduleRefresh();
    },
    onStatus: setLive,
  });
}

/** Asks for a token, unless the refused one has been replaced meanwhile. */
function askToken(refused: string | null): void {
  if (storedToken() !== refused) return;
  const dialog = byId<HTMLDialogElement>('token-dialog');
  if (!dialog.open) dialog.showModal();
}

// ---- controls ------------------------------------------------------------------------------------

function toggleNamespace(id: string): void {
  viewport.hold();
  if (state.toggled.has(id)) state.toggled.delete(id);
  else state.toggled.add(id);
  scheduleRender();
}

function setAllCollapsed(collapsed: boolean): void {
  const scene = state.scene;
  if (!scene) return;
  state.toggled = scene.collapsedByDefault === collapsed ? new Set() : new Set(scene.boxes.map((b) => b.id));
  scheduleRender();
}

/** Enter in the search box: show the first box with something found. */
function goToFirstMatch(): void {
  const box = state.scene?.boxes.find((b) => b.matches > 0);
  if (!box) return;
  const row = box.rows.find((r) => r.match);
  viewport.show(
    row ? { x: box.x, y: row.y - 40, w: box.w, h: row.h + 200 } : { x: box.x, y: box.y, w: box.w, h: box.h },
  );
}

function wireControls(): void {
  svg.addEventListener('click', (event) => {
    const target = event.target as Element;
    const toggle = target.closest('[data-toggle]');
    const row = target.closest('[data-key]');
    const topology = shownTopology();
    if (!topology) return;
    if (toggle) {
      const id = toggle.getAttribute('data-toggle') ?? '';
      toggleNamespace(id);
      panel.open({ type: 'namespace', id }, topology);
      markSelected();
    } else if (row) {
      panel.open({ type: 'item', key: row.getAttribute('data-key') ?? '' }, topology);
      markSelected();
    }
  });
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  const search = byId<HTMLInputElement>('search');
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.query = search.value;
      scheduleRender();
    }, SEARCH_DELAY_MS);
  });
  search.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    state.query = search.value;
    layout();
    goToFirstMatch();
    draw();
  });
  byId<HTMLInputElement>('show-l3').addEventListener('change', (event) => {
    state.showL3 = (event.target as HTMLInputElement).checked;
    scheduleRender();
  });
  byId('collapse-all').addEventListener('click', () => setAllCollapsed(true));
  byId('expand-all').addEventListener('click', () => setAllCollapsed(false));
  byId('zoom-in').addEventListener('click', () => viewport.zoom(1.25));
  byId('zoom-out').addEventListener('click', () => viewport.zoom(0.8));
  byId('zoom-fit').addEventListener('click', () => viewport.fit());
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !byId('panel').hidden) panel.close();
  });
  byId<HTMLFormElement>('token-form').addEventListener('submit', () => {
    storeToken(byId<HTMLInputElement>('token-input').value.trim());
    startEvents();
    void refresh();
  });
  wirePlanDrawer({
    current: () => state.topology,
    show: (plan) => {
      state.plan = plan;
      scheduleRender();
    },
    opened: () => panel.close(),
    tokenNeeded: (refused) => askToken(refused),
  });
}

viewport.onChange(onViewChange);
wireControls();
startEvents();
void refresh();
