/**
 * Reads a store can answer at once. A store that holds its records in this
 * process's memory (`MemoryTokenStore`) offers a synchronous read here, so
 * the token keeper can read it on every write without a promise, a deadline
 * or a microtask hop: such a read cannot be slow or unreachable, which is all
 * the asynchronous path guards against. Not part of the `TokenStore`
 * contract: a store of your own is read through `get` as always.
 * @module
 */
import type { StoredCredentials, TokenStore } from "./token-store.js";

/**
 * A synchronous `get`: the record of `userId` under `contractId` as it is
 * now, or `undefined`. The ids come from the token keeper, which only holds
 * ids checked where they entered (`write`, the client's options), so the read
 * does not check them again, nor allocate a key: it runs on every write.
 */
export type ReadNow = (userId: string, contractId: string) => StoredCredentials | undefined;

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
