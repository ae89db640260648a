/**
 * Two interface items must not claim the same host interface name in the same namespace: the
 * kernel has room for one. Which of the two is "later" is the caller's business (the order the
 * datastore delivered them); this module only finds the clash. Pure.
 */
import type { FieldError } from './errors.js';
import type { LinuxInterface } from './interface.js';
import { describeNamespace, namespaceId } from './namespace.js';

export interface ClaimedInterface {
  key: string;
  value: LinuxInterface;
}

/** The identity of what an interface occupies in the kernel: a name in a namespace. */
export function hostNameClaim(value: LinuxInterface): string {
  return `${namespaceId(value.namespace)} ${value.hostIfName}`;
}

/**
 * The error for `candidate` when one of `others` (other keys) claims the same host name in the
 * same namespace, or undefined.
 */
export function findHostNameConflict(
  candidate: ClaimedInterface,
  others: Iterable<ClaimedInterface>,
): FieldError | undefined {
  const claim = hostNameClaim(candidate.value);
  for (const other of others) {
    if (other.key === candidate.key || hostNameClaim(other.value) !== claim) continue;
    return {
      key: candidate.key,
      field: 'host_if_name',
      message:
        `host interface name ${candidate.value.hostIfName} in ${describeNamespace(candidate.value.namespace)} ` +
        `is already claimed by ${other.key}`,
    };
  }
  return undefined;
}
