/**
 * The engine's public contract: what a descriptor (one kind of item) implements, and what the
 * engine reports about items. The engine knows nothing about Linux; descriptors do.
 */

/** One problem in one field of a value (`$` for the value as a whole). */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * Something an item needs before it can be created. Exactly one of `key`, `anyOf`, `prefix`:
 * - `key`: that key is applied (an item) or asserted (a fact);
 * - `anyOf`: at least one of these keys is;
 * - `prefix`: at least one key under this folder is (the engine appends a missing trailing '/').
 * `reason` is shown while it is missing ("waiting for VETH peer veth2 to be configured").
 * `recreateOnChange` (only with `key`): when the value of that fact changes (a namespace replaced
 * by a new one under the same name, a container restarted with a new pid), the dependent is
 * deleted and created again. Items a dependent relies on are never re-created under it: a
 * dependency that is deleted or re-created always takes its dependents down first...
 * `removedWithIt` (only with `key`): ...unless deleting that item removes the dependent in the
 * real world too (an address, a route or a neighbour entry goes with its link). Then the
 * dependency's removal does not wait for the dependent's: the dependent's removal comes after it,
 * and its descriptor's delete should find nothing left to do (should it fail, the item counts as
 * removed all the same). An item that others depend on the usual way keeps the usual order. A
 * teardown then reaches the kernel before the bookkeeping of what goes with it.
 */
export type Dependency =
  | { key: string; reason: string; recreateOnChange?: boolean; removedWithIt?: boolean }
  | { anyOf: readonly string[]; reason: string }
  | { prefix: string; reason: string };

/** Read access to the engine's state, given to every descriptor call. */
export interface EngineView {
  /** Metadata of an applied item (what its create/update returned), e.g. an ifindex. */
  metadata<M>(key: string): M | undefined;
  /** The desired (valid, in effect) value of an item, applied or not. */
  value<V>(key: string): V | undefined;
  /** The value of an asserted fact. */
  fact<T>(key: string): T | undefined;
}

/**
 * What `dependencies` and `derived` may read. The engine remembers which keys were read and
 * computes the dependencies again when one of their desired values changes (e.g. a route that
 * resolves its interface's host name).
 */
export interface DesiredView {
  value<V>(key: string): V | undefined;
}

/** An item seen in the real state by `retrieve`. */
export interface Retrieved<V, M> {
  key: string;
  value: V;
  metadata: M;
  /** False: seen but not ours; the engine never touches it. */
  managed: boolean;
}

/** An item derived from another one: desired while its parent is desired and valid. */
export interface DerivedItem {
  key: string;
  value: unknown;
  /** Name of the descriptor of this item; by default found from the key like any other. */
  descriptor?: string;
}

/**
 * An exclusive resource. When two items claim the same `id`, the later one is invalid, with
 * `${what ?? id} is already claimed by <other key>` on `field` ('$' by default).
 */
export type Claim = string | { id: string; field?: string; what?: string };

/**
 * One kind of item. `V` is the value type, `M` the metadata an applied item keeps (returned by
 * create/update, given back to update/delete and to dependents through `EngineView.metadata`).
 * Only `name`, a key selector, `create` and `delete` are required.
 */
export interface Descriptor<V = unknown, M = unknown> {
  name: string;
  /** Keys handled: those under one of these prefixes (longest prefix wins) ... */
  keyPrefix?: string | readonly string[];
  /** ... and/or those this predicate accepts (checked after `keyPrefix`). Pure: its answers are remembered. */
  handles?(key: string): boolean;
  /** Problems of the value, by field; empty when valid. Pure. */
  validate?(key: string, value: V): FieldError[];
  /** What the item needs before it can be created. Pure (reads through `view` are tracked). */
  dependencies?(key: string, value: V, view: DesiredView): Dependency[];
  /** Items derived from this one (addresses of an interface, markers). Pure. */
  derived?(key: string, value: V, view: DesiredView): DerivedItem[];
  /** Exclusive resources the value occupies. Pure. */
  claims?(key: string, value: V): Claim[];
  create(view: EngineView, key: string, value: V): Promise<M>;
  /** Changes an applied item in place; without it every change re-creates. */
  update?(view: EngineView, key: string, before: V, after: V, metadata: M): Promise<M>;
  /** True when a change cannot be made in place (default: false when `update` exists). */
  needsRecreate?(key: string, before: V, after: V, metadata: M): boolean;
  delete(view: EngineView, key: string, value: V, metadata: M): Promise<void>;
  /**
   * Facts that stop holding when an applied value of this kind that is no longer desired is
   * removed (the link a VETH item deletes is no longer there, nor up). Facts come from outside,
   * after the transaction; the planner counts these gone already, so that it does not create in
   * the same transaction what needs them (a route through that link, named by its host name).
   * Pure.
   */
  withdraws?(key: string, value: V): readonly string[];
  /**
   * The real state of this kind, for resync. `desired` lists the desired values of the keys in
   * scope so that real objects can be correlated with them. Managed items the engine does not
   * want are deleted; unmanaged ones are never touched. Without `retrieve`, the engine trusts
   * its own memory of what it applied.
   */
  retrieve?(view: EngineView, desired: { key: string; value: V }[]): Promise<Retrieved<V, M>[]>;
  /** Names of descriptors whose items must be retrieved first (their metadata is used). */
  retrieveAfter?: readonly string[];
  /**
   * True when `actual` (an applied or retrieved value) needs no change to become `desired`.
   * Default: deep equality of plain data.
   */
  equivalent?(key: string, desired: V, actual: V): boolean;
  /** True when a failed operation may succeed later; default: `isRetriable` of src/errors.ts. */
  isRetriable?(error: unknown): boolean;
}

/**
 * Descriptors of any value type, as the engine stores them (methods are bivariant in their
 * parameters, so every `Descriptor<V, M>` is one).
 */
export type AnyDescriptor = Descriptor<unknown, unknown>;

export type ItemState = 'configured' | 'pending' | 'failed' | 'invalid' | 'removed';

/** An error as reported in statuses and history. */
export interface ErrorInfo {
  message: string;
  code?: string;
  /** The item's field the error is about, when the error names one. */
  field?: string;
  retriable: boolean;
}

/** What the engine reports about one item. */
export interface ItemStatus {
  key: string;
  state: ItemState;
  descriptor: string;
  /** 'derived' items come from another item's `derived`. */
  origin: 'config' | 'derived';
  /** pending: which dependency is missing, in words. */
  reason?: string;
  /** failed: the last error. */
  error?: ErrorInfo;
  /** failed: failures in a row. */
  retries?: number;
  /** failed and retriable: when the next attempt starts (clock ms). */
  nextRetryAt?: number;
  /** invalid: the problems of the value that was refused (a previous valid value stays applied). */
  fieldErrors?: FieldError[];
  /** Clock ms of the last change of this status. */
  updatedAt: number;
  /** Order of this change among all status changes of the engine (later: greater). */
  changeSeq?: number;
}

/** A desired change. */
export interface Change {
  puts?: { key: string; value: unknown }[];
  deletes?: string[];
  /** The puts are the whole desired configuration: every other configured key is deleted. */
  replace?: boolean;
  /** Read the real state (of the scope) before planning; see `ResyncScope`. */
  resync?: boolean | ResyncScope;
}

/** What a resync reads: everything, the items of some descriptors, or some keys. */
export interface ResyncScope {
  descriptors?: string[];
  keys?: string[];
}

/** An outside fact (a namespace exists, a container runs) asserted or withdrawn. */
export type FactChange = { key: string; value: unknown } | { key: string; deleted: true };

/** Time and timers, injectable for tests. */
export interface Clock {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}
