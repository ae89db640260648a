import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { routeIdentity, routeMatches, specIdentity } from '../../../src/descriptors/l3-ops.js';
import { AF_INET, RTN_UNICAST, type Route, type RouteSpec } from '../../../src/netlink/index.js';

// Few distinct values per field, so that matching pairs are common among the generated ones.
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
const dst = fc.constantFrom('10.0.0.0', '10.0.1.0', '0.0.0.0');
const dstLength = fc.constantFrom(0, 24);
const table = fc.constantFrom(254, 100);
const gateway = maybe(fc.constantFrom('10.0.0.1', '10.0.0.2'));
const oif = maybe(fc.constantFrom(2, 3));
const metric = maybe(fc.constantFrom(0, 100));
const source = maybe(fc.constantFrom('10.0.0.9'));

/** The fields of a dumped route this test does not vary. */
const FIXED = { family: AF_INET, srcLength: 0, protocol: 4, scope: 0, type: RTN_UNICAST, tos: 0, flags: 0 };

/** `fields` without those undefined: optional fields are absent from routes and specs, not undefined. */
function defined(fields: Record<string, string | number | undefined>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<
    string,
    string | number
  >;
}

const routeArb: fc.Arbitrary<Route> = fc
  .record({ dst: maybe(dst), dstLength, table, gateway, oif, metric, source })
  .map((f) => ({ ...FIXED, ...defined(f) }) as Route);

const specArb: fc.Arbitrary<RouteSpec> = fc
  .record({ dst: maybe(dst), dstLength, table: maybe(table), gateway, oif, metric, source })
  .map((f) => ({ family: AF_INET, ...defined(f) }) as RouteSpec);

/** The route the kernel would list for a spec: every field the spec leaves open filled in. */
const routeOf = (spec: RouteSpec, otherSource: string | undefined): Route =>
  ({
    ...FIXED,
    ...defined({
      dstLength: spec.dstLength,
      table: spec.table ?? 254,
      dst: spec.dstLength > 0 ? spec.dst : undefined,
      gateway: spec.gateway,
      oif: spec.oif,
      metric: spec.metric || undefined,
      source: spec.source ?? otherSource,
    }),
  }) as Route;

describe('route identity (resync lookup)', () => {
  it('a dumped route and a spec that match have the same identity', () => {
    fc.assert(
      fc.property(routeArb, specArb, (route, spec) => {
        // A spec without an interface matches a route through any: compared without it.
        if (routeMatches(route, spec))
          assert.equal(routeIdentity(route, spec.oif === undefined), specIdentity(spec));
      }),
      { numRuns: 5000 },
    );
    // Matching pairs made on purpose (independent ones rarely match).
    fc.assert(
      fc.property(specArb, source, (spec, otherSource) => {
        const route = routeOf(spec, otherSource);
        if (spec.dstLength > 0 && spec.dst === undefined) return; // no such spec is ever made
        assert.ok(routeMatches(route, spec));
        assert.equal(routeIdentity(route, spec.oif === undefined), specIdentity(spec));
        // The kernel reports the interface it picked for a spec that names none.
        if (spec.oif === undefined) assert.ok(routeMatches({ ...route, oif: 7 }, spec));
      }),
      { numRuns: 2000 },
    );
  });

  it('routes that differ in what is compared exactly have different identities', () => {
    const base: Route = {
      ...FIXED,
      dst: '10.0.0.0',
      dstLength: 24,
      table: 254,
      gateway: '10.0.0.1',
      oif: 2,
    };
    const variants: Route[] = [
      { ...base, dst: '10.0.1.0' },
      { ...base, dstLength: 25 },
      { ...base, table: 100 },
      { ...base, gateway: '10.0.0.2' },
      { ...base, oif: 3 },
      { ...base, metric: 5 },
    ];
    for (const v of variants) assert.notEqual(routeIdentity(v), routeIdentity(base));
    assert.equal(routeIdentity({ ...base, metric: 0 }), routeIdentity(base));
  });
});
