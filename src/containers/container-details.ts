/**
 * Pure readings of container details: which microservice a container runs, and when it started,
 * in a form that orders correctly.
 */

export const MICROSERVICE_LABEL_ENV = 'MICROSERVICE_LABEL';

/**
 * The microservice label in a container's environment (`MICROSERVICE_LABEL=<label>`), or undefined
 * when the variable is absent or empty. Docker keeps the last of repeated variables, and so do we.
 */
export function microserviceLabelOf(env: readonly string[]): string | undefined {
  const prefix = `${MICROSERVICE_LABEL_ENV}=`;
  let label: string | undefined;
  for (const entry of env) {
    if (entry.startsWith(prefix)) label = entry.slice(prefix.length);
  }
  return label === undefined || label === '' ? undefined : label;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Docker's StartedAt (Go's RFC3339Nano) as nanoseconds since the epoch. Go trims trailing zeros of
 * the fraction, so the strings themselves do not sort; and Date.parse keeps only milliseconds, which
 * cannot order two containers started in the same millisecond. Unparsable times count as 0 (oldest).
 */
export function startedAtNanos(startedAt: string): bigint {
  const match = RFC3339.exec(startedAt);
  if (match === null) return 0n;
  const [, seconds = '', fraction = '', zone = 'Z'] = match;
  const millis = Date.parse(`${seconds}${zone}`);
  if (Number.isNaN(millis)) return 0n;
  return BigInt(millis) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}
