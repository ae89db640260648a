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

const routeArb: fc.Arbitrary<Route> = fc
  .record({ dst: maybe(dst), dstLength, table, gateway, oif, metric, source })
  .map((f) => ({
    family: AF_INET,
    srcLength: 0,
    protocol: 4,
    scope: 0,
    type: RTN_UNICAST,
    tos: 0,
    flags: 0,
    dstLength: f.dstLength,
    table: f.table,
    ...(f.dst !== undefined ? { dst: f.dst } : {}),
    ...(f.gateway !== undefined ? { gateway: f.gateway } : {}),
    ...(f.oif !== undefined ? { oif: f.oif } : {}),
    ...(f.metric !== undefined ? { metric: f.metric } : {}),
    ...(f.source !== undefined ? { source: f.source } : {}),
  }));

const specArb: fc.Arbitrary<RouteSpec> = fc
  .record({ dst: maybe(dst), dstLength, table: maybe(table), gateway, oif, metric, source })
  .map((f) => ({
    family: AF_INET,
    dstLength: f.dstLength,
    ...(f.table !== undefined ? { table: f.table } : {}),
    ...(f.dst !== undefined ? { dst: f.dst } : {}),
    ...(f.gateway !== undefined ? { gateway: f.gateway } : {}),
    ...(f.oif !== undefined ? { oif: f.oif } : {}),
    ...(f.metric !== undefined ? { metric: f.metric } : {}),
    ...(f.source !== undefined ? { source: f.source } : {}),
  }));

/** The route the kernel would list for a spec: every field the spec leaves open filled in. */
const routeOf = (spec: RouteSpec, otherSource: string | undefined): Route => ({
  family: AF_INET,
  srcLength: 0,
  protocol: 4,
  scope: 0,
  type: RTN_UNICAST,
  tos: 0,
  flags: 0,
  dstLength: spec.dstLength,
  table: spec.table ?? 254,
  ...(spec.dstLength > 0 && spec.dst !== undefined ? { dst: spec.dst } : {}),
  ...(spec.gateway !== undefined ? { gateway: spec.gateway } : {}),
  ...(spec.oif !== undefined ? { oif: spec.oif } : {}),
  ...(spec.metric ? { metric: spec.metric } : {}),
  ...((spec.source ?? otherSource) !== undefined ? { source: spec.source ?? otherSource } : {}),
});

describe('route identity (resync lookup)', () => {
  it('a dumped route and a spec that match have the same identity', () => {
    fc.assert(
      fc.property(routeArb, specArb, (route, spec) => {
        if (routeMatches(route, spec)) assert.equal(routeIdentity(route), specIdentity(spec));
      }),
      { numRuns: 5000 },
    );
    // Matching pairs made on purpose (independent ones rarely match).
    fc.assert(
      fc.property(specArb, source, (spec, otherSource) => {
        const route = routeOf(spec, otherSource);
        if (spec.dstLength > 0 && spec.dst === undefined) return; // no such spec is ever made
        assert.ok(routeMatches(route, spec));
        assert.equal(routeIdentity(route), specIdentity(spec));
      }),
      { numRuns: 2000 },
    );
  });

  it('routes that differ in what is compared exactly have different identities', () => {
    const base: Route = {
      family: AF_INET,
      srcLength: 0,
      protocol: 4,
      scope: 0,
      type: RTN_UNICAST,
      tos: 0,
      flags: 0,
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
