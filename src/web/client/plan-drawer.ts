/** The plan drawer: paste a file, plan it, show the report, draw it on the topology, leave. */
import type { Topology } from '../contract/topology.js';
import { TokenNeededError } from './api.js';
import { byId } from './dom.js';
import { mergePlan, planCounts, planReport, requestPlan, type PlanView } from './plan.js';

export interface PlanDrawerHooks {
  /** The live topology the plan is compared with. */
  current(): Topology | undefined;
  /** Draw this plan on the topology (undefined: back to the live view). */
  show(plan: PlanView | undefined): void;
  /** The drawer opened (the side panel makes room). */
  opened(): void;
  tokenNeeded(refused: string | null): void;
}

export function wirePlanDrawer(hooks: PlanDrawerHooks): void {
  const drawer = byId('plan-drawer');
  const result = byId('plan-result');
  const banner = byId('plan-banner');
  byId('plan-open').addEventListener('click', () => {
    drawer.hidden = !drawer.hidden;
    if (!drawer.hidden) hooks.opened();
  });
  byId('plan-close').addEventListener('click', () => (drawer.hidden = true));
  byId('plan-exit').addEventListener('click', () => {
    banner.hidden = true;
    result.replaceChildren();
    hooks.show(undefined);
  });
  byId('plan-run').addEventListener('click', () => {
    const current = hooks.current();
    if (!current) return;
    const text = byId<HTMLTextAreaElement>('plan-text').value;
    const replace = byId<HTMLInputElement>('plan-replace').checked;
    result.textContent = 'planning…';
    requestPlan(text, replace).then(
      (response) => {
        const plan = mergePlan(current, response);
        result.replaceChildren(planReport(plan));
        byId('plan-counts').textContent = planCounts(plan);
        banner.hidden = false;
        hooks.show(plan);
      },
      (error: unknown) => {
        if (error instanceof TokenNeededError) hooks.tokenNeeded(error.sent);
        result.textContent = String(error);
      },
    );
  });
}
