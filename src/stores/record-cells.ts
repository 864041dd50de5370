/**
 * Records a store holds in this process's memory (`MemoryTokenStore`), read
 * without a promise. Such a store offers, per user and contract, a cell: a
 * small object whose `record` is always the stored record, replaced on every
 * `set` and cleared on `delete`. The token keeper reads a cell on every
 * write: without a promise, a deadline or a microtask hop (such a read cannot
 * be slow or unreachable, which is all the asynchronous path guards
 * against), and, once it holds a user's cell, without looking the user up
 * again. A `set` by another client sharing the store shows in the same cell,
 * so the next write sees it. Not part of the `TokenStore` contract: a store
 * of your own is read through `get` as always.
 * @module
 */
import type { StoredCredentials, TokenStore } from "./token-store.js";

/**
 * Where one user's record under one contract lives while it is stored.
 * Readers only read `record`; the store replaces it. Once `record` is
 * `undefined` the cell is given up for good (a later `set` makes a new one),
 * so a reader holding it must look the cell up again.
 */
export interface RecordCell {
  readonly record: StoredCredentials | undefined;
}

/**
 * The cell of `userId` under `contractId`, or `undefined` when nothing is
 * stored. The ids come from the token keeper, which only holds ids checked
 * where they entered (`write`, the client's options), so the lookup does not
 * check them again, nor allocate a key.
 */
export type CellOf = (userId: string, contractId: string) => RecordCell | undefined;

// Keyed by the store object: nothing is added to a store's public shape.
const cells = new WeakMap<TokenStore, CellOf>();

/** `store` answers `cellOf` at once, its cells holding what its `get` would resolve to. */
export function offerCells(store: TokenStore, cellOf: CellOf): void {
  cells.set(store, cellOf);
}

/** The cell lookup `store` offers, if any. */
export function cellsOf(store: TokenStore): CellOf | undefined {
  return cells.get(store);
}
