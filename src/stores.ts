/**
 * What a token store or pending-authorization store of your own implements:
 * the two interfaces and the types their methods take and return. The
 * package root exports the interfaces too (the client's options name them);
 * `tokenStoreContract` in `digime-write-pipeline/testing` checks an
 * implementation against them.
 *
 * @example
 * ```ts
 * import type { CredentialsKey, SetOptions, SetResult, StoredCredentials, TokenStore, Credentials } from "digime-write-pipeline/stores";
 *
 * class MyTokenStore implements TokenStore {
 *   async get(key: CredentialsKey): Promise<StoredCredentials | undefined> { return db.find(key); }
 *   async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> { return db.compareAndSet(key, credentials, options.expectedVersion); }
 *   async delete(key: CredentialsKey): Promise<boolean> { return db.remove(key); }
 *   async listByUser(userId: string): Promise<StoredCredentials[]> { return db.forUser(userId); }
 * }
 * ```
 * @module digime-write-pipeline/stores
 */
export type {
  TokenStore,
  Credentials,
  CredentialsKey,
  StoredCredentials,
  SetOptions,
  SetResult,
  RefreshLeases,
  RefreshLeaseOptions,
  ExpiringTokens,
  ListExpiringOptions,
  ExpiringCursor,
} from "./stores/token-store.js";
export type { PendingAuthorizationStore, ConsumeResult } from "./stores/pending-store.js";
