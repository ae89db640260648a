/**
 * Static routes, in the route's namespace, through its interface. A route waits for its namespace,
 * for its interface to be up, and, with a gateway, for the gateway to be reachable on that interface
 * (an address or a gateway-less route of the interface covers it) — whoever configured those — so
 * that any order of puts converges, and it steps back (removed, pending) when they go away. A route
 * with a gateway and no interface waits for the gateway to be reachable through any interface that
 * is up.
 */
import { describeNamespace, namespaceId, type LinuxRoute } from '../model/index.js';
import { AF_INET6, NetlinkError, type Route, type RouteSpec } from '../netlink/index.js';
import type { LinuxContext } from './context.js';
import { InterfaceNotConfiguredError } from './errors.js';
import type { Dep, LinuxDescriptor, Retrieved } from './engine-contract.js';
import { viewsByNamespace, type NamespaceView } from './namespace-views.js';
import { ANY_INTERFACE } from './fact-keys.js';
import { linkDependencies, namedNamespaceNeeded, namespaceDependency } from './interface.js';
import {
  addRoute,
  isOwnRoute,
  removeRoute,
  routeIdentity,
  routeMatches,
  routePlace,
  routeScopeName,
  routeSpec,
  specIdentity,
  specPlace,
} from './l3-ops.js';
import { AGENT_PROTOCOL, ownedConfigName } from './ownership.js';
import { anyLinkPlace, routeEntryPlace } from './own-entries.js';

export interface RouteMetadata {
  namespaceId: string;
  spec: RouteSpec;
}

export function routeDescriptor(ctx: LinuxContext): LinuxDescriptor<LinuxRoute, RouteMetadata> {
  /** Our route made from `spec` was removed: one there later is not known to be ours. */
  const noteRemoved = (view: NamespaceView, spec: RouteSpec): void => {
    ctx.ownEntries.noteRemoved('route', view.identity, specEntryPlace(spec));
    // Noted without its link when made (naming no interface), with the kernel's pick when read.
    const anyLink = anyLinkPlace(specPlace(spec), spec.family);
    if (anyLink !== undefined) ctx.ownEntries.noteRemoved('route', view.identity, anyLink);
  };
  return {
    name: 'route',
    keyPrefix: ctx.prefix('route'),

    dependencies(key, value, desired) {
      const deps: Dep[] = [namespaceDependency(value.namespace)];
      const nsId = namespaceId(value.namespace);
      const where = describeNamespace(value.namespace);
      if (value.interface !== undefined) {
        // The host name is resolved when the dependencies are computed; the plugin recomputes them
        // when the interface's config changes (see linux-plugin.ts).
        const host = ctx.hostNameOf(desired, value.interface);
        deps.push(
          ...linkDependencies(
            value.namespace,
            host,
            value.interface,
            ctx.interfaceItemOf(desired, value.interface, value.namespace),
            ctx.interfaceItemElsewhere(desired, value.interface, value.namespace),
          ),
        );
        if (value.gateway !== undefined) {
          const fact = ctx.gatewayFact(key, nsId, host, value.gateway, value.table);
          deps.push({
            key: fact,
            reason: `waiting for gateway ${value.gateway} to be reachable through ${value.interface}`,
          });
        }
      } else if (value.gateway !== undefined) {
        // No interface named: the kernel picks the one whose network holds the gateway.
        deps.push({
          key: ctx.gatewayFact(key, nsId, ANY_INTERFACE, value.gateway, value.table),
          reason: `waiting for gateway ${value.gateway} to be reachable in ${where}`,
          recreateOnChange: true,
        });
      }
      return deps;
    },

    derived: (_key, value) => namedNamespaceNeeded(value.namespace),

    async create(engine, key, value) {
      const view = ctx.view(value.namespace);
      const oif =
        value.interface !== undefined
          ? view.links.get(ctx.hostNameOf(engine, value.interface))?.index
          : undefined;
      if (value.interface !== undefined && oif !== undefined)
        ctx.checkItemLink(engine, value.interface, value.namespace, view, oif);
      const spec = routeSpec(value, oif);
      // Our route at this place replaced by someone (drift): ours to put back over theirs.
      const ours = ctx.routeKeyAtPlace(view.id, spec) === key;
      await ctx.ownEntries.making('route', view.identity, specEntryPlace(spec), () =>
        addRoute(view, spec, ctx.label, ours),
      );
      ctx.noteRoute(view.id, spec, key);
      return { namespaceId: view.id, spec };
    },

    // At the same place (namespace, table, destination, metric) through the same interface and
    // gateway, a change is made in place: its description alone needs no request; its source or
    // scope one replace (IPv4), with no moment without a route. (A gateway or an interface changed is a
    // dependency changed: the engine re-creates it, waiting for the new one.)
    needsRecreate: (_key, before, after) =>
      namespaceId(before.namespace) !== namespaceId(after.namespace) ||
      before.interface !== after.interface ||
      before.gateway !== after.gateway ||
      specPlace(routeSpec(before, undefined)) !== specPlace(routeSpec(after, undefined)),

    async update(_engine, key, before, after, meta) {
      // The link it was made through (the kernel's pick when the item names none: not pinned).
      const oif = after.interface !== undefined ? meta.spec.oif : undefined;
      const spec = routeSpec(after, oif);
      if (JSON.stringify(spec) === JSON.stringify(routeSpec(before, oif))) return meta;
      const view = ctx.view(after.namespace);
      if (spec.family === AF_INET6) {
        // An IPv6 replace takes the first route of that destination and metric, whatever its link:
        // another program's may come first. Ours is deleted, then the new one added.
        await removeRoute(view, meta.spec);
        noteRemoved(view, meta.spec);
        await ctx.ownEntries.making('route', view.identity, specEntryPlace(spec), () =>
          addRoute(view, spec, ctx.label),
        );
      } else
        await ctx.ownEntries.making('route', view.identity, specEntryPlace(spec), () =>
          addRoute(view, spec, ctx.label, true),
        );
      ctx.noteRoute(view.id, spec, key);
      return { namespaceId: view.id, spec };
    },

    async delete(engine, _key, _value, meta) {
      const view = ctx.views.get(meta.namespaceId);
      ctx.forgetRoute(meta.namespaceId, meta.spec);
      if (meta.spec.oif === undefined || !ctx.linkGoingAway(engine, view, meta.spec.oif))
        await removeRoute(view, meta.spec);
      if (view) noteRemoved(view, meta.spec);
    },

    async retrieve(engine, desired) {
      const found: Retrieved<LinuxRoute, RouteMetadata>[] = [];
      // Every namespace's dump at once: each view has its own socket, so the round trips overlap.
      // Each namespace once, whatever references it is open under (viewsByNamespace).
      const groups = viewsByNamespace(ctx.views.all());
      const dumps = await Promise.all(
        groups.map(([view]) => view!.handle.routeList({ protocol: AGENT_PROTOCOL })),
      );
      // The wanted routes by namespace and what a dumped route must equal: thousands of routes in
      // a namespace are matched by lookup, not each against every wanted one.
      const wanted = new Map<string, { key: string; value: LinuxRoute; spec: RouteSpec; viewId: string }[]>();
      for (const w of desired) {
        const view = ctx.views.get(namespaceId(w.value.namespace));
        if (!view) continue;
        const oif =
          w.value.interface !== undefined
            ? view.links.get(ctx.hostNameOf(engine, w.value.interface))?.index
            : undefined;
        const spec = routeSpec(w.value, oif);
        const id = `${view.identity}\n${specIdentity(spec)}`;
        const list = wanted.get(id);
        if (list) list.push({ ...w, spec, viewId: view.id });
        else wanted.set(id, [{ ...w, spec, viewId: view.id }]);
      }
      for (const [i, [view]] of groups.entries()) {
        if (!view) continue;
        const routes = dumps[i]!.filter((r) => r.protocol === AGENT_PROTOCOL);
        for (const route of routes) {
          const inNamespace = (id: string, spec: (w: { spec: RouteSpec }) => RouteSpec = (w) => w.spec) =>
            wanted.get(`${view.identity}\n${id}`)?.find((w) => routeMatches(route, spec(w)));
          // A wanted route that names no interface matches the one the kernel picked.
          let match = inNamespace(routeIdentity(route)) ?? inNamespace(routeIdentity(route, true));
          // Ours with another preferred source (a change of it the kernel refused, or someone's)
          // or another scope (someone's `ip route change`): the item's, as it is, to be changed in
          // place (not an orphan to delete).
          const loose = (w: { spec: RouteSpec }): RouteSpec => ({
            ...w.spec,
            source: undefined,
            scope: undefined,
          });
          const near = match
            ? undefined
            : (inNamespace(routeIdentity(route), loose) ?? inNamespace(routeIdentity(route, true), loose));
          if (near) match = { ...near, value: asHeld(near.value, near.spec, route) };
          const spec: RouteSpec = {
            family: route.family,
            dstLength: route.dstLength,
            table: route.table,
            protocol: AGENT_PROTOCOL,
            ...(route.dst !== undefined ? { dst: route.dst } : {}),
            ...(route.gateway !== undefined ? { gateway: route.gateway } : {}),
            ...(route.oif !== undefined ? { oif: route.oif } : {}),
            ...(route.metric !== undefined ? { metric: route.metric } : {}),
            // As made (create notes the scope it asks for): a later change of it is drift.
            ...(match?.spec.scope !== undefined && route.family !== AF_INET6 ? { scope: route.scope } : {}),
          };
          // Through a link another label marked, only a wanted route naming no interface (the
          // kernel picked that link) is ours; one naming an interface is that agent's route.
          if (match && (match.value.interface === undefined || isOwnRoute(ctx.label, view.links, route))) {
            // Under the reference its item names.
            ctx.noteRoute(match.viewId, spec, match.key);
            const oif = match.value.interface !== undefined ? route.oif : undefined;
            ctx.ownEntries.noteMade(
              'route',
              view.identity,
              routeEntryPlace(routePlace(route), route.family, oif),
            );
            found.push({
              key: match.key,
              value: match.value,
              metadata: { namespaceId: match.viewId, spec },
              managed: true,
            });
          } else if (
            isOwnRoute(ctx.label, view.links, route) &&
            (throughOurLink(ctx.label, view, route) ||
              ctx.ownEntries.takeOrphan(
                'route',
                view.identity,
                routeEntryPlace(routePlace(route), route.family, route.oif),
                anyLinkPlace(routePlace(route), route.family),
              ))
          ) {
            // Ours but not wanted any more: an orphan the engine removes. Not one through a link
            // another label marked: that agent's to keep or remove (a wanted one of ours the kernel
            // sent through such a link, naming no interface, is matched above). On a link no agent
            // marked, only one this process made (or found at its first read of the namespace):
            // another label's there looks the same (own-entries.ts).
            const orphanKey = `${ctx.prefix('route')}.orphan-${view.id.replace(/\//g, '_')}-${route.dst ?? 'default'}_${route.dstLength}-t${route.table}-m${route.metric ?? 0}`;
            found.push({
              key: orphanKey,
              value: orphanRoute(orphanKey),
              metadata: { namespaceId: view.id, spec },
              managed: true,
            });
          }
        }
        ctx.ownEntries.noteRead('route', view.identity);
      }
      return found;
    },

    isRetriable(error) {
      // A gateway not reachable yet, the interface going down under us, or its item not having its
      // link yet: try again later.
      return (
        error instanceof InterfaceNotConfiguredError ||
        (error instanceof NetlinkError &&
          (error.retriable || ['ENETUNREACH', 'ENETDOWN', 'ENODEV'].includes(error.errnoName)))
      );
    },
  };
}

/** A wanted route's value as the kernel holds it: its preferred source and scope, where they differ. */
function asHeld(value: LinuxRoute, spec: RouteSpec, route: Route): LinuxRoute {
  const { source: _wantedSource, scope: _wantedScope, ...rest } = value;
  const held: LinuxRoute = route.source !== undefined ? { ...rest, source: route.source } : rest;
  const other = spec.scope !== undefined && route.family !== AF_INET6 && spec.scope !== route.scope;
  const scope = other ? routeScopeName(route.scope) : value.scope;
  if (scope !== undefined) held.scope = scope;
  return held;
}

/** Where own-entries books a route made from `spec` (its link too, for IPv6). */
function specEntryPlace(spec: RouteSpec): string {
  return routeEntryPlace(specPlace(spec), spec.family, spec.oif);
}

/** Whether the route goes through a link this agent marked (its own VETH end, DUMMY, TAP). */
function throughOurLink(label: string, view: NamespaceView, route: Route): boolean {
  return route.oif !== undefined && ownedConfigName(label, view.links.get(route.oif)?.alias) !== undefined;
}

function orphanRoute(name: string): LinuxRoute {
  return {
    name,
    description: '',
    namespace: { kind: 'default' },
    isDefault: false,
    family: 4,
    dst: '0.0.0.0/0',
    metric: 0,
    table: 0,
  };
}
