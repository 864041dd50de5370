/**
 * The in-memory {@link TokenStore}: what tests use, and a fine choice for a
 * single process that can afford to lose its tokens on restart.
 * @module
 */
import { z } from "zod";
import {
  buildStoredCredentials,
  parseCredentials,
  parseCredentialsKey,
  parseLeaseOptions,
  parseLeaseOwner,
  parseSetOptions,
  parseUserId,
} from "../credentials-schema.js";
import { parseOrThrow } from "../../internal/zod-issues.js";
import { LeaseTable } from "./lease-table.js";
import { copyOut, countRecords, deepFreeze } from "../record-copies.js";
import { offerCells, type RecordCell } from "../record-cells.js";
import { parseListExpiring, selectExpiring } from "../expiring.js";
import type {
  Credentials,
  CredentialsKey,
  RefreshLeaseOptions,
  RefreshLeases,
  SetOptions,
  SetResult,
  StoredCredentials,
  TokenStore,
  ExpiringTokens,
  ListExpiringOptions,
} from "../token-store.js";

/** A stored record's cell; `record` is `undefined` only once deleted (no longer in the map). */
interface Cell extends RecordCell {
  record: StoredCredentials | undefined;
}

/** The records held in `cells`. */
function recordsIn(cells: Iterable<Cell>): StoredCredentials[] {
  const records: StoredCredentials[] = [];
  for (const { record } of cells) if (record !== undefined) records.push(record);
  return records;
}

/**
 * Options of {@link MemoryTokenStore}.
 *
 * @example
 * ```ts
 * const store = new MemoryTokenStore({ now: sandbox.now });
 * ```
 */
export interface MemoryTokenStoreOptions {
  /**
   * Clock for `updatedAt`, in epoch milliseconds. Defaults to `Date.now`.
   * @defaultValue `Date.now`
   */
  readonly now?: (() => number) | undefined;
}

const memoryOptionsSchema = z.object({
  now: z.custom<() => number>((value) => typeof value === "function", { error: "must be a function" }).optional(),
});

/**
 * A {@link TokenStore} kept in process memory. Compare-and-set is atomic
 * because every operation runs without awaiting in between; `get` hands out
 * the stored record, deeply frozen, and the other methods copies, so callers
 * cannot change what is stored. Refresh leases
 * ({@link RefreshLeases}) coordinate every client sharing the instance.
 *
 * @example
 * ```ts
 * const store = new MemoryTokenStore();
 * const key = { userId: "alice", contractId: "c1" };
 * const created = await store.set(key, { userAccessToken }, { expectedVersion: null });
 * if (created.status === "stored") {
 *   await store.set(key, { userAccessToken: refreshed }, { expectedVersion: created.record.version });
 * }
 * ```
 */
export class MemoryTokenStore implements TokenStore, RefreshLeases, ExpiringTokens {
  // userId → contractId → the cell holding the frozen record (see
  // record-cells.ts). Nested Maps: no joined string key can collide, and ids
  // like "__proto__" are ordinary keys.
  readonly #records = new Map<string, Map<string, Cell>>();
  readonly #now: () => number;
  readonly #leases: LeaseTable;

  constructor(options: MemoryTokenStoreOptions = {}) {
    const parsed = parseOrThrow(memoryOptionsSchema, options, "INVALID_OPTIONS", "options", "MemoryTokenStore options");
    this.#now = parsed.now ?? Date.now;
    this.#leases = new LeaseTable(this.#now);
    // The records are in memory: a client reads them at once (see record-cells.ts).
    offerCells(this, (userId, contractId) => this.#cellOf(userId, contractId));
  }

  /**
   * The cell holding the stored record itself: the record is deeply frozen,
   * so nobody can change it through this reference, and a write (which reads
   * once each time) does not pay for a copy. A new `set` puts another record
   * object in the same cell.
   */
  #cellOf(userId: string, contractId: string): Cell | undefined {
    return this.#records.get(userId)?.get(contractId);
  }

  #read(key: CredentialsKey): StoredCredentials | undefined {
    const { userId, contractId } = parseCredentialsKey(key);
    return this.#cellOf(userId, contractId)?.record;
  }

  /**
   * The credentials for `key`, or `undefined`. The record is deeply frozen:
   * copy it (`structuredClone`) to change it.
   *
   * @example
   * ```ts
   * const record = await store.get({ userId: "alice", contractId: "c1" });
   * ```
   */
  async get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    return this.#read(key);
  }

  /**
   * Compare-and-set: stores `credentials` if the stored version equals
   * `options.expectedVersion` (`null`: only if nothing is stored).
   *
   * @example
   * ```ts
   * const result = await store.set(key, { userAccessToken }, { expectedVersion: null });
   * if (result.status === "conflict") console.log(result.current?.version);
   * ```
   */
  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    const parsedKey = parseCredentialsKey(key);
    const parsedCredentials = parseCredentials(credentials);
    const { expectedVersion } = parseSetOptions(options);

    const cell = this.#cellOf(parsedKey.userId, parsedKey.contractId);
    const current = cell?.record;
    if ((current?.version ?? null) !== expectedVersion) {
      return { status: "conflict", current: copyOut(current) };
    }
    const record = deepFreeze(
      buildStoredCredentials(parsedKey, parsedCredentials, (current?.version ?? 0) + 1, this.#now()),
    );
    if (cell !== undefined) {
      // In place: a client holding this cell sees the new record at its next write.
      cell.record = record;
    } else {
      let contracts = this.#records.get(parsedKey.userId);
      if (contracts === undefined) {
        contracts = new Map();
        this.#records.set(parsedKey.userId, contracts);
      }
      contracts.set(parsedKey.contractId, { record });
    }
    return { status: "stored", record: structuredClone(record) };
  }

  /**
   * Removes the credentials for `key`; `true` if there were any.
   *
   * @example
   * ```ts
   * if (await store.delete({ userId: "alice", contractId: "c1" })) console.log("forgotten");
   * ```
   */
  async delete(key: CredentialsKey): Promise<boolean> {
    const { userId, contractId } = parseCredentialsKey(key);
    const contracts = this.#records.get(userId);
    const cell = contracts?.get(contractId);
    if (contracts === undefined || cell === undefined) return false;
    // Given up for good: a client holding the cell looks it up again (a later set makes a new one).
    cell.record = undefined;
    contracts.delete(contractId);
    if (contracts.size === 0) this.#records.delete(userId);
    return true;
  }

  /**
   * Every record of `userId`, one per contract.
   *
   * @example
   * ```ts
   * const all = await store.listByUser("alice");
   * ```
   */
  async listByUser(userId: string): Promise<StoredCredentials[]> {
    const id = parseUserId(userId);
    return recordsIn(this.#records.get(id)?.values() ?? []).map((record) => structuredClone(record));
  }

  /**
   * The contract's records whose refresh token expires before
   * `options.refreshTokenExpiresBefore`, soonest first (token upkeep).
   *
   * @example
   * ```ts
   * const soon = await store.listExpiring("c1", { refreshTokenExpiresBefore: Date.now() + 86_400_000, limit: 100 });
   * ```
   */
  async listExpiring(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]> {
    const parsed = parseListExpiring(contractId, options);
    const all = [...this.#records.values()].flatMap((contracts) => recordsIn(contracts.values()));
    return selectExpiring(all, parsed.contractId, parsed.options);
  }

  /**
   * Takes the refresh lease of `key` for `options.ttlMs` (by the store's
   * clock); `false` while another unexpired lease is held.
   *
   * @example
   * ```ts
   * if (await store.acquireRefreshLease(key, { owner: "worker-1", ttlMs: 10_000 })) console.log("mine");
   * ```
   */
  async acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    return this.#leases.acquire(parsedKey, owner, ttlMs);
  }

  /**
   * Extends `owner`'s unexpired refresh lease of `key` to `options.ttlMs`
   * from now; `false` when `owner` no longer holds it.
   *
   * @example
   * ```ts
   * const stillMine = await store.renewRefreshLease(key, { owner: "worker-1", ttlMs: 3_000 });
   * ```
   */
  async renewRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    return this.#leases.renew(parsedKey, owner, ttlMs);
  }

  /**
   * Releases the refresh lease of `key` if `owner` holds it.
   *
   * @example
   * ```ts
   * await store.releaseRefreshLease(key, "worker-1");
   * ```
   */
  async releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void> {
    this.#leases.release(parseCredentialsKey(key), parseLeaseOwner(owner));
  }

  /** Shows counts only: `util.inspect` and `console.log` must never print a token. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `MemoryTokenStore { users: ${this.#records.size}, records: ${countRecords(this.#records)} }`;
  }
}
