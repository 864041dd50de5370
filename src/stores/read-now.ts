/**
 * Reads a store can answer at once. A store that holds its records in this
 * process's memory (`MemoryTokenStore`) offers a synchronous read here, so
 * the token keeper can read it on every write without a promise, a deadline
 * or a microtask hop: such a read cannot be slow or unreachable, which is all
 * the asynchronous path guards against. Not part of the `TokenStore`
 * contract: a store of your own is read through `get` as always.
 * @module
 */
import type { CredentialsKey, StoredCredentials, TokenStore } from "./token-store.js";

/** A synchronous `get`: the record for `key` as it is now, or `undefined`. */
export type ReadNow = (key: CredentialsKey) => StoredCredentials | undefined;

// Keyed by the store object: nothing is added to a store's public shape.
const readers = new WeakMap<TokenStore, ReadNow>();

/** `store` answers `read` at once, with what its `get` would resolve to. */
export function offerReadNow(store: TokenStore, read: ReadNow): void {
  readers.set(store, read);
}

/** The synchronous read `store` offers, if any. */
export function readNowOf(store: TokenStore): ReadNow | undefined {
  return readers.get(store);
}
