// Property tests: whatever JSON arrives, the parser answers with a value or an InvalidValueError
// (never another exception); and valid values survive serialize -> parse unchanged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  configKey,
  InvalidValueError,
  isIpv6Loopback,
  isLimitedBroadcast,
  isMulticast,
  isUnspecified,
  networkOf,
  parseIp,
  parseItem,
  parseItemText,
  parsePrefix,
  serializeItem,
  ITEM_KINDS,
  type ItemKind,
} from '../../../src/model/index.js';

const RUNS = 400;

function onlyInvalidValueErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    assert.ok(error.errors.length > 0);
    for (const e of error.errors) assert.equal(typeof e.field, 'string');
  }
}

// ---- valid building blocks ----
// Not lo: every namespace has one, and only LOOPBACK or EXISTING items may name it.
const hostName = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,14}$/).filter((name) => name !== 'lo');
const itemName = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_.-]{0,20}$/);
const usableIp = (family: 4 | 6): fc.Arbitrary<string> =>
  (family === 4 ? fc.ipV4() : fc.ipV6()).filter((text) => {
    const parsed = parseIp(text);
    return (
      parsed.ok &&
      !isMulticast(parsed.value) &&
      !isUnspecified(parsed.value) &&
      !isLimitedBroadcast(parsed.value) &&
      // Only a LOOPBACK may have it, and no route may use it as its gateway.
      !isIpv6Loopback(parsed.value)
    );
  });
const family = fc.constantFrom<4 | 6>(4, 6);
const cidr = family.chain((f) =>
  fc.tuple(usableIp(f), fc.integer({ min: 0, max: f === 4 ? 32 : 128 })).map(([ip, len]) => `${ip}/${len}`),
);
const unicastMac = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .filter((b) => b.some((x) => x !== 0) && ((b[0] ?? 0) & 1) === 0)
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
const anyMac = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0').toUpperCase()).join('-'));
const namespace = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  fc.integer({ min: 1, max: 4194304 }).map((pid) => ({ type: 'PID_REF_NS', pid })),
  itemName.map((microservice) => ({ type: 1, microservice })),
  itemName.map((name) => ({ type: 'NAMED_NS', name })),
  fc.array(itemName, { minLength: 1, maxLength: 4 }).map((s) => ({ type: 3, filepath: '/' + s.join('/') })),
);
const uniqueAddresses = fc.uniqueArray(cidr, {
  maxLength: 6,
  selector: (text) => {
    const parsed = parsePrefix(text);
    return parsed.ok ? parsed.value.address.text : text;
  },
});

const validInterface = fc
  .record({
    type: fc.constantFrom('VETH', 'AUTO_TAP', 'LOOPBACK', 'DUMMY', 'EXISTING'),
    enabled: fc.boolean(),
    description: fc.string({ maxLength: 20 }),
    host: hostName,
    addresses: uniqueAddresses,
    mtu: fc.oneof(fc.constant(0), fc.integer({ min: 1280, max: 65535 })),
    mac: fc.option(unicastMac, { nil: undefined }),
    namespace,
    other: hostName,
  })
  .map((r) => {
    const raw: Record<string, unknown> = {
      type: r.type,
      enabled: r.enabled || r.type === 'LOOPBACK', // a LOOPBACK's lo is kept up
      description: r.description,
      ip_addresses: r.addresses,
      mtu: r.mtu,
      namespace: r.namespace,
    };
    if (r.type !== 'LOOPBACK') {
      raw['host_if_name'] = r.host;
      raw['phys_address'] = r.mac;
    }
    if (r.type === 'VETH') raw['veth'] = { peer_if_name: `peer-${r.other}` };
    if (r.type === 'AUTO_TAP') raw['tap'] = { temp_if_name: r.other };
    return raw;
  });

const validRoute = family.chain((f) =>
  fc
    .record({
      dst: fc.tuple(usableIp(f), fc.integer({ min: 1, max: f === 4 ? 32 : 128 })),
      isDefault: fc.boolean(),
      gw: fc.option(usableIp(f), { nil: undefined }),
      src: fc.option(usableIp(f), { nil: undefined }),
      iface: fc.option(itemName, { nil: undefined }),
      scope: fc.option(fc.constantFrom('GLOBAL', 'SITE', 'LINK', 'HOST'), { nil: undefined }),
      metric: fc.nat({ max: 0xffffffff }),
      table: fc.nat({ max: 0xffffffff }).filter((t) => t !== 255),
      namespace,
    })
    .map((r) => {
      const prefix = parsePrefix(`${r.dst[0]}/${r.dst[1]}`);
      assert.ok(prefix.ok);
      const raw: Record<string, unknown> = {
        metric: r.metric,
        table: String(r.table),
        namespace: r.namespace,
        src_ip_addr: r.src,
        gw_addr: r.gw,
        interface: r.iface ?? (r.gw === undefined ? 'eth0' : undefined),
      };
      if (r.isDefault) raw['default'] = true;
      else raw['dst_ip_addr'] = networkOf(prefix.value).text;
      if (
        r.scope !== undefined &&
        !(r.gw !== undefined && f === 4 && (r.scope === 'LINK' || r.scope === 'HOST'))
      ) {
        raw['scope'] = { type: r.scope };
      }
      return raw;
    }),
);

const validArp = family.chain((f) =>
  fc.record({
    interface: itemName,
    ip_addr: usableIp(f),
    hw_address: anyMac,
    state: fc.option(
      fc.record({ type: fc.constantFrom('PERMANENT', 'NOARP', 'REACHABLE', 'STALE', 0, 1, 2, 3) }),
      {
        nil: undefined,
      },
    ),
    ip_family: fc.option(fc.constant({ family: f === 4 ? 'IPV4' : 1 }), { nil: undefined }),
    namespace,
  }),
);

const validByKind: Record<ItemKind, fc.Arbitrary<Record<string, unknown>>> = {
  interface: validInterface,
  route: validRoute,
  arp: validArp,
};

describe('the parser only ever throws InvalidValueError', () => {
  const kind = fc.constantFrom<ItemKind>(...ITEM_KINDS);

  test('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(kind, fc.jsonValue(), (k, json) => {
        onlyInvalidValueErrors(() => parseItem(configKey('a', k, 'x'), json));
      }),
      { numRuns: RUNS },
    );
  });

  test('on arbitrary text', () => {
    fc.assert(
      fc.property(kind, fc.string({ unit: 'binary', maxLength: 200 }), (k, text) => {
        onlyInvalidValueErrors(() => parseItemText(configKey('a', k, 'x'), text));
      }),
      { numRuns: RUNS },
    );
  });

  test('on arbitrary bytes', () => {
    fc.assert(
      fc.property(kind, fc.uint8Array({ maxLength: 200 }), (k, bytes) => {
        onlyInvalidValueErrors(() => parseItemText(configKey('a', k, 'x'), bytes));
      }),
      { numRuns: RUNS },
    );
  });

  test('on valid values with one field (top level or nested) replaced by arbitrary JSON', () => {
    const mutated = fc
      .constantFrom<ItemKind>(...ITEM_KINDS)
      .chain((k) =>
        fc.tuple(fc.constant(k), validByKind[k], fc.string({ maxLength: 14 }), fc.jsonValue(), fc.boolean()),
      );
    const nested = [
      'type',
      'pid',
      'microservice',
      'name',
      'filepath',
      'peer_if_name',
      'temp_if_name',
      'family',
    ];
    fc.assert(
      fc.property(mutated, fc.constantFrom(...nested), ([k, raw, field, value, deep], nestedField) => {
        const copy: Record<string, unknown> = structuredClone(raw);
        if (deep) {
          for (const part of ['namespace', 'veth', 'tap', 'scope', 'state', 'ip_family']) {
            copy[part] = { ...(copy[part] as object | undefined), [nestedField]: value };
          }
        } else {
          copy[field] = value;
        }
        onlyInvalidValueErrors(() => parseItem(configKey('a', k, 'x'), copy));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('valid values round-trip through serialize and parse', () => {
  for (const k of ITEM_KINDS) {
    test(k, () => {
      fc.assert(
        fc.property(validByKind[k], itemName, (raw, name) => {
          const key = configKey('agent', k, name);
          const item = parseItem(key, raw);
          const text = serializeItem(item);
          const again = parseItemText(key, text);
          assert.deepEqual(again, item);
          assert.equal(serializeItem(again), text);
        }),
        { numRuns: RUNS },
      );
    });
  }
});
