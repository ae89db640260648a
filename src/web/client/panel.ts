/**
 * The side panel: what one item (or namespace) is. Its state in words, its stored config
 * (GET /v1/config/<key>), what the kernel holds for it (GET /v1/kernel, matched by namespace and host
 * name) and the last transactions that touched it (GET /v1/history, its key and derived keys).
 */
import type {
  Topology,
  TopologyArp,
  TopologyInterface,
  TopologyItem,
  TopologyNamespace,
  TopologyRoute,
} from '../contract/topology.js';
import { getJson, getOptional } from './api.js';
import { h, jsonBlock } from './dom.js';

export type Selection = { type: 'item'; key: string } | { type: 'namespace'; id: string };

interface NamespaceDump {
  namespace: string;
  links: { index: number; name: string; alias?: string }[];
  addresses: { index: number; address: string; prefixLength: number }[];
  routes: { dst?: string; dstLength: number; oif?: number; gateway?: string; table: number }[];
  neighbours: { index: number; address: string; mac?: string }[];
}

interface TransactionView {
  seq: number;
  startedAt: number;
  causes: string[];
  durationMs: number;
  operations: { kind: string; key: string; outcome: string; why: string; error?: { message: string } }[];
}

type Found =
  | { kind: 'interface'; item: TopologyInterface }
  | { kind: 'route'; item: TopologyRoute }
  | { kind: 'arp'; item: TopologyArp }
  | { kind: 'unplaced'; item: TopologyItem };

export function findItem(topology: Topology, key: string): Found | undefined {
  const i = topology.interfaces.find((x) => x.key === key);
  if (i) return { kind: 'interface', item: i };
  const r = topology.routes.find((x) => x.key === key);
  if (r) return { kind: 'route', item: r };
  const a = topology.arps.find((x) => x.key === key);
  if (a) return { kind: 'arp', item: a };
  const u = topology.unplaced.find((x) => x.key === key);
  return u ? { kind: 'unplaced', item: u } : undefined;
}

function stateBlock(item: TopologyItem): HTMLElement {
  const block = h(
    'div',
    { class: `state-line state-${item.state}` },
    h('span', { class: 'badge' }, item.state),
  );
  if (item.reason) block.append(' ', h('span', { class: 'why' }, item.reason));
  if (item.error) block.append(' ', h('span', { class: 'why' }, item.error));
  for (const e of item.fieldErrors ?? [])
    block.append(h('div', { class: 'why' }, `${e.field}: ${e.message}`));
  return block;
}

function section(title: string, body: Node): HTMLElement {
  return h('section', {}, h('h3', {}, title), body);
}

function loading(): HTMLElement {
  return h('p', { class: 'muted' }, 'loading…');
}

/** What the kernel holds for an item, from one namespace dump. */
function kernelFor(found: Found, dump: NamespaceDump | undefined): unknown {
  if (!dump) return 'the agent has no view of this namespace (not available)';
  if (found.kind === 'interface') {
    const link = dump.links.find((l) => l.name === found.item.hostIfName);
    if (!link) return `no link ${found.item.hostIfName} in this namespace`;
    return {
      link,
      addresses: dump.addresses.filter((a) => a.index === link.index),
      routes: dump.routes.filter((r) => r.oif === link.index),
      neighbours: dump.neighbours.filter((n) => n.index === link.index),
    };
  }
  if (found.kind === 'route') {
    const dst = found.item.dst === 'default' ? undefined : found.item.dst;
    const matches = dump.routes.filter((r) => (dst ? `${r.dst}/${r.dstLength}` === dst : r.dstLength === 0));
    return matches.length ? matches : `no route to ${found.item.dst} in this namespace`;
  }
  if (found.kind === 'arp') {
    const matches = dump.neighbours.filter((n) => n.address === found.item.ipAddress);
    return matches.length ? matches : `no neighbour entry for ${found.item.ipAddress} in this namespace`;
  }
  return 'never applied';
}

function historyList(transactions: TransactionView[], matches: (key: string) => boolean): HTMLElement {
  const touching = transactions
    .filter((t) => t.operations.some((op) => matches(op.key)))
    .slice(-5)
    .reverse();
  if (touching.length === 0) return h('p', { class: 'muted' }, 'no recent transaction touched it');
  const list = h('ol', { class: 'history' });
  for (const t of touching) {
    const ops = t.operations.filter((op) => matches(op.key));
    const when = new Date(t.startedAt).toLocaleTimeString();
    const entry = h(
      'li',
      {},
      h('div', {}, `#${t.seq} ${when} (${t.causes.join(', ')}, ${t.durationMs.toFixed(1)} ms)`),
    );
    for (const op of ops.slice(0, 8)) {
      const what = op.key.slice(op.key.lastIndexOf('/config/v1/') + 11);
      const line = h(
        'div',
        { class: `op outcome-${op.outcome}` },
        `${op.kind} ${what}: ${op.outcome}${op.why ? ` (${op.why})` : ''}`,
      );
      if (op.error) line.append(h('div', { class: 'why' }, op.error.message));
      entry.append(line);
    }
    if (ops.length > 8) entry.append(h('div', { class: 'muted' }, `… ${ops.length - 8} more operations`));
    list.append(entry);
  }
  return list;
}

export class SidePanel {
  private selection: Selection | undefined;
  private generation = 0;
  private shownState = '';

  constructor(
    private readonly element: HTMLElement,
    private readonly onClose: () => void,
  ) {}

  get selected(): Selection | undefined {
    return this.selection;
  }

  close(): void {
    this.selection = undefined;
    this.element.hidden = true;
    this.element.replaceChildren();
    this.onClose();
  }

  /** Re-opens the panel when what it shows changed state (live updates). */
  refresh(topology: Topology): void {
    if (!this.selection) return;
    if (this.stateOf(topology, this.selection) !== this.shownState) this.open(this.selection, topology);
  }

  private stateOf(topology: Topology, selection: Selection): string {
    if (selection.type === 'namespace') {
      const ns = topology.namespaces.find((n) => n.id === selection.id);
      return ns ? `${ns.available}` : 'gone';
    }
    const found = findItem(topology, selection.key);
    return found ? `${found.item.state}\n${found.item.reason ?? ''}\n${found.item.error ?? ''}` : 'gone';
  }

  open(selection: Selection, topology: Topology): void {
    this.selection = selection;
    this.shownState = this.stateOf(topology, selection);
    const generation = ++this.generation;
    const close = h('button', { class: 'close', title: 'close', 'aria-label': 'close' }, '×');
    close.addEventListener('click', () => this.close());
    this.element.hidden = false;
    if (selection.type === 'namespace') {
      const ns = topology.namespaces.find((n) => n.id === selection.id);
      this.element.replaceChildren(
        close,
        ...(ns ? this.namespaceView(ns, topology, generation) : [h('p', {}, 'gone')]),
      );
      return;
    }
    const found = findItem(topology, selection.key);
    if (!found) {
      this.element.replaceChildren(
        close,
        h('h2', {}, selection.key),
        h('p', { class: 'muted' }, 'no longer configured'),
      );
      return;
    }
    const config = loading();
    const kernel = loading();
    const history = loading();
    this.element.replaceChildren(
      close,
      h('h2', {}, `${found.kind === 'unplaced' ? 'item' : found.kind} ${found.item.name}`),
      h('p', { class: 'key' }, found.item.key),
      stateBlock(found.item),
      section('Config', config),
      section('Kernel', kernel),
      section('Last transactions', history),
    );
    const still = (): boolean => generation === this.generation;
    void getOptional<{ value: unknown }>(`/v1/config${found.item.key}`).then(
      (entry) =>
        still() &&
        config.replaceWith(
          entry
            ? jsonBlock(entry.value)
            : h('p', { class: 'muted' }, 'not stored (would be created by a plan)'),
        ),
      (error: unknown) => still() && config.replaceWith(h('p', { class: 'why' }, String(error))),
    );
    const namespace = 'namespace' in found.item ? (found.item as { namespace: string }).namespace : undefined;
    void getJson<NamespaceDump[]>('/v1/kernel').then(
      (dumps) =>
        still() &&
        kernel.replaceWith(
          jsonBlock(
            kernelFor(
              found,
              dumps.find((d) => d.namespace === namespace),
            ),
          ),
        ),
      (error: unknown) => still() && kernel.replaceWith(h('p', { class: 'why' }, String(error))),
    );
    const key = found.item.key;
    void getJson<TransactionView[]>('/v1/history').then(
      (list) =>
        still() && history.replaceWith(historyList(list, (k) => k === key || k.startsWith(`${key}/`))),
      (error: unknown) => still() && history.replaceWith(h('p', { class: 'why' }, String(error))),
    );
  }

  private namespaceView(ns: TopologyNamespace, topology: Topology, generation: number): HTMLElement[] {
    const items = [
      ...topology.interfaces.filter((i) => i.namespace === ns.id),
      ...topology.routes.filter((i) => i.namespace === ns.id),
      ...topology.arps.filter((i) => i.namespace === ns.id),
    ];
    const counts = new Map<string, number>();
    for (const item of items) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
    const facts = h(
      'ul',
      { class: 'facts' },
      h('li', {}, `id ${ns.id}`),
      h('li', {}, ns.available ? 'available: the agent watches it' : 'not available: its items wait for it'),
      ns.container
        ? h(
            'li',
            {},
            `container ${ns.container.name} (${ns.container.id.slice(0, 12)}), pid ${ns.container.pid}`,
          )
        : undefined,
      h('li', {}, `${items.length} items: ${[...counts].map(([s, c]) => `${c} ${s}`).join(', ') || 'none'}`),
    );
    const kernel = loading();
    void getJson<NamespaceDump[]>('/v1/kernel').then(
      (dumps) => {
        if (generation !== this.generation) return;
        const dump = dumps.find((d) => d.namespace === ns.id);
        kernel.replaceWith(
          dump
            ? jsonBlock(dump.links.map((l) => `${l.index}: ${l.name}${l.alias ? ` (${l.alias})` : ''}`))
            : h('p', { class: 'muted' }, 'no view of this namespace'),
        );
      },
      (error: unknown) =>
        generation === this.generation && kernel.replaceWith(h('p', { class: 'why' }, String(error))),
    );
    return [h('h2', {}, `namespace ${ns.title}`), facts, section('Kernel links', kernel)];
  }
}
