/**
 * The contract every token store fulfils. Credentials are kept per app user
 * **and** per contract, so one store can serve the clients of several
 * contracts; every write is a compare-and-set on `version`.
 * @module
 */
import type { UserAccessToken } from "../sdk/types.js";

/**
 * Identifies one set of credentials: an app user under one contract.
 *
 * @example
 * ```ts
 * const stored = await store.get({ userId: "alice", contractId: client.contractId } satisfies CredentialsKey);
 * ```
 */
export interface CredentialsKey {
  /** Your application's id for the user. */
  readonly userId: string;
  /** The digi.me contract the token was issued for. */
  readonly contractId: string;
}

/**
 * What the library stores for a user: the token and, for generation A, the postbox.
 *
 * @example
 * ```ts
 * const credentials: Credentials = { userAccessToken, postboxId, publicKey };
 * await store.set(key, credentials, { expectedVersion: null });
 * ```
 */
export interface Credentials {
  /** The newest user access token. */
  readonly userAccessToken: UserAccessToken;
  /** Postbox id from the authorization callback (generation A write contracts). */
  readonly postboxId?: string | undefined;
  /** Postbox public key (PKCS#1 PEM) from the authorization callback (generation A). */
  readonly publicKey?: string | undefined;
  /**
   * `true` once digi.me has refused this record's refresh token. The library
   * stores it (compare-and-set on the version that held the token) so that
   * no process presents the spent token again; only a new authorization,
   * which replaces the record, clears it.
   */
  readonly refreshTokenRefused?: true | undefined;
}

/**
 * Credentials as a store holds them, with their version and time of last change.
 *
 * @example
 * ```ts
 * const record: StoredCredentials | undefined = await store.get(key);
 * console.log(record?.version, new Date(record?.updatedAt ?? 0));
 * ```
 */
export interface StoredCredentials extends Credentials, CredentialsKey {
  /** Starts at 1 and grows by exactly 1 on every successful `set`. */
  readonly version: number;
  /** Epoch milliseconds of the last successful `set`. */
  readonly updatedAt: number;
}

/**
 * Condition of a compare-and-set.
 *
 * @example
 * ```ts
 * await store.set(key, credentials, { expectedVersion: current?.version ?? null } satisfies SetOptions);
 * ```
 */
export interface SetOptions {
  /**
   * The version the caller last saw: the set succeeds only if the stored
   * version is still this one. `null` means "only if nothing is stored yet".
   */
  readonly expectedVersion: number | null;
}

/**
 * Outcome of {@link TokenStore.set}: stored, or a conflict showing what is stored now.
 *
 * @example
 * ```ts
 * const result: SetResult = await store.set(key, credentials, { expectedVersion: 3 });
 * if (result.status === "conflict") console.log("someone stored version", result.current?.version);
 * ```
 */
export type SetResult =
  | {
      /** The credentials were written. */
      readonly status: "stored";
      /** What is stored now, with its new version. */
      readonly record: StoredCredentials;
    }
  | {
      /** The stored version was not the expected one; nothing was written. */
      readonly status: "conflict";
      /** What is stored now (`undefined`: nothing). */
      readonly current: StoredCredentials | undefined;
    };

/**
 * Options of {@link RefreshLeases.acquireRefreshLease}.
 *
 * @example
 * ```ts
 * const taken = await store.acquireRefreshLease?.(key, { owner: randomUUID(), ttlMs: 10_000 } satisfies RefreshLeaseOptions);
 * ```
 */
export interface RefreshLeaseOptions {
  /** Who takes the lease: an opaque, unique value. Only this owner can release it. */
  readonly owner: string;
  /** The lease frees itself this many ms after it was taken, so a holder that dies cannot block refreshes for long. */
  readonly ttlMs: number;
}

/**
 * Refresh coordination: a short, owner-checked lease per user and contract.
 * A store shared by several processes offers it so that only one of them
 * spends a user's single-use refresh token at a time; the others wait and
 * read the token it stored. Compare-and-set on `version` stays the fence: a
 * holder whose lease ran out can never overwrite a newer token.
 *
 * Rules (checked by `tokenStoreContract(..., { leases: true })`):
 * - `acquireRefreshLease` resolves `true` only when no unexpired lease exists
 *   for the key (whoever holds it), atomically: of many concurrent callers,
 *   one wins.
 * - A lease frees itself after `ttlMs`.
 * - `releaseRefreshLease` removes the lease only while `owner` holds it.
 * - `renewRefreshLease` (optional) extends the lease to `ttlMs` from now,
 *   and resolves `true`, only while `owner` holds an unexpired lease.
 * - Leases are independent of records: `get` and `set` work while one is held.
 *
 * @example
 * ```ts
 * const owner = randomUUID();
 * if (await store.acquireRefreshLease(key, { owner, ttlMs: 10_000 })) {
 *   try {
 *     // re-read, refresh, compare-and-set
 *   } finally {
 *     await store.releaseRefreshLease(key, owner);
 *   }
 * }
 * ```
 */
export interface RefreshLeases {
  /** Take the refresh lease for `key`; `false` when an unexpired lease is held (by anyone). */
  acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean>;
  /** Release the lease for `key` if `owner` still holds it; otherwise do nothing. */
  releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void>;
  /**
   * Optional: extend `owner`'s unexpired lease to `ttlMs` from now; `false`
   * when `owner` no longer holds it. A store that offers it gets a short lease
   * renewed while its refresh runs, so a holder that dies is replaced in
   * seconds.
   */
  renewRefreshLease?(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean>;
}

/**
 * Where a page of {@link ExpiringTokens.listExpiring} ended: the last record's
 * refresh-token expiry and user id. The next page starts after it.
 *
 * @example
 * ```ts
 * const last = page.at(-1)!;
 * const cursor: ExpiringCursor = { refreshTokenExpiresAt: last.userAccessToken.refreshToken.expiry * 1000, userId: last.userId };
 * ```
 */
export interface ExpiringCursor {
  /** Epoch ms of the last record's refresh-token expiry. */
  readonly refreshTokenExpiresAt: number;
  /** The last record's user id. */
  readonly userId: string;
}

/**
 * Options of {@link ExpiringTokens.listExpiring}.
 *
 * @example
 * ```ts
 * const options: ListExpiringOptions = { refreshTokenExpiresBefore: Date.now() + 7 * 86_400_000, limit: 100 };
 * ```
 */
export interface ListExpiringOptions {
  /** Epoch ms: list records whose refresh token expires before this moment (already expired ones included). */
  readonly refreshTokenExpiresBefore: number;
  /** At most this many records (1 to 1000). */
  readonly limit: number;
  /**
   * Start after this record (the previous page's last); default: from the first.
   * @defaultValue none: from the first record
   */
  readonly after?: ExpiringCursor | undefined;
}

/**
 * Token upkeep: finding a contract's tokens whose refresh token expires
 * soon, so they can be refreshed before a rarely-written user has to consent
 * again (`client.refreshExpiring`).
 *
 * Rules (checked by `tokenStoreContract(..., { listExpiring: true })`):
 * records of `contractId` only; refresh-token expiry (epoch ms, the stored
 * `expiry` seconds × 1000) strictly before `refreshTokenExpiresBefore`;
 * ordered by that expiry, then user id; strictly after `after`; at most
 * `limit`; a record changed by `set` is listed by its new expiry, a deleted
 * one not at all.
 *
 * @example
 * ```ts
 * const soon = await store.listExpiring(client.contractId, { refreshTokenExpiresBefore: Date.now() + 86_400_000, limit: 100 });
 * ```
 */
export interface ExpiringTokens {
  /** A page of the contract's records whose refresh token expires before the given moment, soonest first. */
  listExpiring(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]>;
}

/**
 * A pluggable, versioned home for user credentials. Implement it over your
 * database to share tokens between processes; check your implementation with
 * `tokenStoreContract` from `digime-write-pipeline/testing`.
 *
 * Rules: `set` must be atomic with respect to its version check; a failure
 * must throw (the library retries), never silently drop the write. A store
 * that several processes share should also offer {@link RefreshLeases}.
 *
 * @example
 * ```ts
 * const store: TokenStore = new MemoryTokenStore();
 * const first = await store.set({ userId: "alice", contractId: "c1" }, { userAccessToken }, { expectedVersion: null });
 * if (first.status === "stored") console.log(first.record.version); // 1
 * ```
 */
export interface TokenStore {
  /** The credentials for `key`, or `undefined` when none are stored. */
  get(key: CredentialsKey): Promise<StoredCredentials | undefined>;
  /** Compare-and-set: store `credentials` if the stored version equals `options.expectedVersion`. */
  set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult>;
  /** Remove the credentials for `key`; resolves `true` if something was removed. */
  delete(key: CredentialsKey): Promise<boolean>;
  /** Every stored credential of `userId`, under any contract (used to link libraries). */
  listByUser(userId: string): Promise<StoredCredentials[]>;
  /**
   * Optional ({@link RefreshLeases}): take the refresh lease of `key`. Stores
   * shared by several processes implement it (with `releaseRefreshLease`) so
   * that a user's token is refreshed by one process at a time.
   */
  acquireRefreshLease?(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean>;
  /** Optional ({@link RefreshLeases}): release the refresh lease of `key` if `owner` holds it. */
  releaseRefreshLease?(key: CredentialsKey, owner: string): Promise<void>;
  /** Optional ({@link RefreshLeases}): extend `owner`'s unexpired lease of `key` to `ttlMs` from now. */
  renewRefreshLease?(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean>;
  /**
   * Optional ({@link ExpiringTokens}): the contract's records whose refresh
   * token expires soon, for token upkeep (`client.refreshExpiring`).
   */
  listExpiring?(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]>;
}
