/** The reconcile engine (see README.md). */
export { Engine, type EngineHooks, type EngineOptions, type DryRun } from './engine.js';
export type {
  AnyDescriptor,
  Change,
  Claim,
  Clock,
  Dependency,
  DerivedItem,
  Descriptor,
  DesiredView,
  EngineView,
  ErrorInfo,
  FactChange,
  FieldError,
  ItemState,
  ItemStatus,
  ResyncScope,
  Retrieved,
} from './types.js';
export type { OperationRecord, TransactionCause, TransactionRecord } from './history.js';
export type { OperationKind, Plan, PlannedAction, PlannedOperation, Outcome } from './plan.js';
export type { RetryOptions } from './retry-policy.js';
export { systemClock } from './retry-timer.js';
export { deepEqual } from './deep-equal.js';
export { NoDescriptorError, DescriptorConfigError } from './errors.js';
