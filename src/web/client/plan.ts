/**
 * A plan on the topology: the user pastes a file (YAML or JSON, as `netnsctl apply -f` takes it), the
 * agent plans it (POST /v1/plan with the text: the agent parses YAML, the page needs no library) and
 * the page draws the topology as it would be, every item marked with what the plan does to it;
 * removed items are taken from the current topology and struck through.
 */
import type { PlanEntry, PlanSummary, Topology } from '../contract/topology.js';
import { postJson } from './api.js';
import { h } from './dom.js';

export interface PlanResponse {
  invalid: { key: string; errors: { field: string; message: string }[] }[];
  documentProblems?: { index: number; key?: string; errors: { field: string; message: string }[] }[];
  summary: PlanSummary;
  assumed?: string;
}

export interface PlanView {
  entries: PlanEntry[];
  overlay: Map<string, PlanEntry>;
  /** The planned topology, with the items the plan removes added back (to be struck through). */
  topology: Topology;
  response: PlanResponse;
}

export function requestPlan(document: string, replace: boolean): Promise<PlanResponse> {
  return postJson<PlanResponse>('/v1/plan', { document, replace, topology: true });
}

/** The planned topology plus what the plan removes, from the current one. Pure. */
export function mergePlan(current: Topology, response: PlanResponse): PlanView {
  const entries = response.summary.entries;
  const overlay = new Map(entries.map((e) => [e.key, e]));
  const planned = response.summary.topology ?? current;
  const removed = (key: string, present: Set<string>): boolean =>
    overlay.get(key)?.change === 'remove' && !present.has(key);
  const has = <T extends { key: string }>(list: T[]): Set<string> => new Set(list.map((x) => x.key));
  const interfaces = [
    ...planned.interfaces,
    ...current.interfaces.filter((i) => removed(i.key, has(planned.interfaces))),
  ];
  const routes = [...planned.routes, ...current.routes.filter((r) => removed(r.key, has(planned.routes)))];
  const arps = [...planned.arps, ...current.arps.filter((a) => removed(a.key, has(planned.arps)))];
  const used = new Set([...interfaces, ...routes, ...arps].map((x) => x.namespace));
  const namespaceIds = new Set(planned.namespaces.map((n) => n.id));
  const namespaces = [
    ...planned.namespaces,
    ...current.namespaces.filter((n) => used.has(n.id) && !namespaceIds.has(n.id)),
  ];
  return {
    entries,
    overlay,
    topology: { ...planned, namespaces, interfaces, routes, arps },
    response,
  };
}

const CHANGE_WORDS: Record<PlanEntry['change'], string> = {
  create: 'created',
  change: 'changed',
  recreate: 're-created',
  remove: 'removed',
  pending: 'stay pending',
  invalid: 'invalid',
};

function shortKey(key: string): string {
  const at = key.indexOf('/config/v1/');
  return at >= 0 ? key.slice(at + '/config/v1/'.length) : key;
}

/** The plan's result as a list, grouped by what happens. */
export function planReport(view: PlanView): HTMLElement {
  const report = h('div', { class: 'plan-report' });
  const problems = [...view.response.invalid, ...(view.response.documentProblems ?? [])];
  for (const problem of problems) {
    const where =
      'index' in problem
        ? `document ${problem.index + 1}${problem.key ? ` (${shortKey(problem.key)})` : ''}`
        : shortKey(problem.key);
    report.append(
      h(
        'div',
        { class: 'change-invalid entry' },
        `invalid ${where}: ${problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      ),
    );
  }
  if (view.entries.length === 0 && problems.length === 0) report.append(h('p', {}, 'nothing would change'));
  for (const change of Object.keys(CHANGE_WORDS) as PlanEntry['change'][]) {
    const group = view.entries.filter((e) => e.change === change);
    if (group.length === 0) continue;
    const list = h('ul', {});
    for (const entry of group.slice(0, 200)) {
      list.append(
        h('li', { class: `entry change-${change}` }, h('b', {}, shortKey(entry.key)), ` ${entry.why}`),
      );
    }
    if (group.length > 200) list.append(h('li', { class: 'muted' }, `… ${group.length - 200} more`));
    report.append(h('h3', { class: `change-${change}` }, `${group.length} ${CHANGE_WORDS[change]}`), list);
  }
  if (view.response.assumed) report.append(h('p', { class: 'muted' }, `Assumed: ${view.response.assumed}.`));
  return report;
}

/** "3 created · 1 removed" for the banner. */
export function planCounts(view: PlanView): string {
  const counts = new Map<string, number>();
  for (const e of view.entries) counts.set(e.change, (counts.get(e.change) ?? 0) + 1);
  const parts = (Object.keys(CHANGE_WORDS) as PlanEntry['change'][])
    .filter((c) => counts.get(c))
    .map((c) => `${counts.get(c)} ${CHANGE_WORDS[c]}`);
  return parts.join(' · ') || 'nothing would change';
}
