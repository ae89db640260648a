/**
 * Structural equality of plain data (JSON-like values, Maps, Sets, Dates, typed arrays): the
 * default "already right" test of values and the test for a changed fact value.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) return arraysEqual(a, b as unknown[]);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof Map) return mapsEqual(a, b as Map<unknown, unknown>);
  if (a instanceof Set) return setsEqual(a, b as Set<unknown>);
  if (ArrayBuffer.isView(a)) return bytesEqual(a, b as ArrayBufferView);
  return objectsEqual(a as Record<string, unknown>, b as Record<string, unknown>);
}

function arraysEqual(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
  return true;
}

function objectsEqual(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  // Absent and undefined fields count as the same (optional fields of parsed values).
  for (const k in a)
    if (Object.hasOwn(a, k) && !deepEqual(a[k], Object.hasOwn(b, k) ? b[k] : undefined)) return false;
  for (const k in b) if (Object.hasOwn(b, k) && !Object.hasOwn(a, k) && b[k] !== undefined) return false;
  return true;
}

function mapsEqual(a: Map<unknown, unknown>, b: Map<unknown, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
  return true;
}

function setsEqual(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}

function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
