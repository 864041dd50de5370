/**
 * A {@link TokenStore} in Redis, shared by every process that reaches it.
 *
 * Layout under the key prefix: one hash per user, `tokens:<userId>`, with a
 * field per contract id holding `{"version","updatedAt","credentials"}` as
 * JSON, so get, set, delete and listByUser are each one command; a refresh
 * lease is a plain key, `lease:["<userId>","<contractId>"]`, holding its
 * owner and expiring by PX.
 */
import { z } from "zod";
import { TokenStoreError } from "../../errors.js";
import {
  buildStoredCredentials,
  credentialsSchema,
  parseCredentials,
  parseCredentialsKey,
  parseLeaseOptions,
  parseLeaseOwner,
  parseSetOptions,
  parseUserId,
  storedCredentialsSchema,
} from "../credentials-schema.js";
import type {
  Credentials,
  CredentialsKey,
  ExpiringTokens,
  ListExpiringOptions,
  RefreshLeaseOptions,
  RefreshLeases,
  SetOptions,
  SetResult,
  StoredCredentials,
  TokenStore,
} from "../token-store.js";
import { parseStoreOptions } from "../parse-options.js";
import { credentialSecrets, DEFAULT_CALL_TIMEOUT_MS, StoreCalls } from "../store-failure.js";
import { openConnection, redisConnectionSchema, type RedisCommands, type RedisStoreConnectionOptions } from "./connection.js";
import { COMPARE_AND_SET, DELETE_RECORD, RELEASE_IF_OWNER, RENEW_IF_OWNER } from "./script.js";
import { parseListExpiring, refreshExpiresAt } from "../expiring.js";

/**
 * Options of {@link RedisTokenStore}: pass an ioredis `client` you already
 * have, or `connection` details for a client of the store's own.
 *
 * @example
 * ```ts
 * const store = new RedisTokenStore({ client: redis, keyPrefix: "billing-app:digime:" } satisfies RedisTokenStoreOptions);
 * ```
 */
export interface RedisTokenStoreOptions extends RedisStoreConnectionOptions {}

/** What a hash field holds; the credentials are checked again on every read. */
const storedValueSchema = z.object({
  version: storedCredentialsSchema.shape.version,
  updatedAt: storedCredentialsSchema.shape.updatedAt,
  credentials: credentialsSchema,
});

/**
 * A {@link TokenStore} with {@link RefreshLeases} in Redis, for apps that run
 * in several processes or on several machines. Compare-and-set runs as one
 * Lua script; `updatedAt` comes from the Redis server's clock. Tokens are
 * stored as plain JSON: protect Redis like any secret store (AUTH/ACL, TLS)
 * and turn on persistence (see the token stores guide) so a restart loses
 * nothing.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { RedisTokenStore } from "digime-write-pipeline/redis";
 *
 * const tokenStore = new RedisTokenStore({ client: new Redis(process.env.REDIS_URL!) });
 * const client = new WriteClient({ ...options, tokenStore });
 * ```
 */
export class RedisTokenStore implements TokenStore, RefreshLeases, ExpiringTokens {
  readonly #redis: RedisCommands;
  readonly #calls: StoreCalls;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #cluster: boolean;

  constructor(options: RedisTokenStoreOptions) {
    const parsed = parseStoreOptions(redisConnectionSchema, options, "RedisTokenStore");
    const connection = openConnection(parsed);
    this.#redis = connection.redis;
    this.#calls = new StoreCalls(parsed.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    this.#owned = connection.owned;
    this.#prefix = connection.keyPrefix;
    this.#cluster = this.#redis.isCluster === true;
  }

  /**
   * The credentials for `key`, or `undefined`. One `HGET`.
   *
   * @example
   * ```ts
   * const record = await store.get({ userId: "alice", contractId: "c1" });
   * ```
   */
  async get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    const parsedKey = parseCredentialsKey(key);
    const raw = await this.#calls.run("RedisTokenStore.get", () => this.#redis.hget(this.#userKey(parsedKey.userId), parsedKey.contractId));
    return raw === null ? undefined : this.#decode(parsedKey, raw);
  }

  /**
   * Compare-and-set on `version`, atomically in one Lua script (one round trip).
   *
   * @example
   * ```ts
   * const result = await store.set(key, { userAccessToken }, { expectedVersion: null });
   * if (result.status === "conflict") console.log("now at version", result.current?.version);
   * ```
   */
  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    const parsedKey = parseCredentialsKey(key);
    const parsedCredentials = parseCredentials(credentials);
    const { expectedVersion } = parseSetOptions(options);
    const reply = await this.#calls.run(
      "RedisTokenStore.set",
      () =>
        COMPARE_AND_SET.run(
          this.#redis,
          // On a Cluster the index lives in another slot: it is updated right after, below.
          this.#cluster ? [this.#userKey(parsedKey.userId)] : [this.#userKey(parsedKey.userId), this.#expiringKey(parsedKey.contractId)],
          [parsedKey.contractId, String(expectedVersion ?? 0), JSON.stringify(parsedCredentials), parsedKey.userId],
        ),
      credentialSecrets(parsedCredentials),
    );
    const [stored, raw] = reply as [number, string | undefined];
    if (stored === 1 && this.#cluster) {
      const score = String(refreshExpiresAt(parsedCredentials as Credentials));
      await this.#calls.run("RedisTokenStore.set", () => this.#redis.zadd(this.#expiringKey(parsedKey.contractId), score, parsedKey.userId));
    }
    if (stored === 1 && raw !== undefined) return { status: "stored", record: this.#decode(parsedKey, raw) };
    return { status: "conflict", current: raw === undefined ? undefined : this.#decode(parsedKey, raw) };
  }

  /**
   * Removes the credentials for `key`; `true` if there were any. One `HDEL`
   * (Redis drops the user's hash with its last field).
   *
   * @example
   * ```ts
   * await store.delete({ userId: "alice", contractId: "c1" });
   * ```
   */
  async delete(key: CredentialsKey): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const userKey = this.#userKey(parsedKey.userId);
    const expiringKey = this.#expiringKey(parsedKey.contractId);
    const removed = await this.#calls.run("RedisTokenStore.delete", async () => {
      if (!this.#cluster) return (await DELETE_RECORD.run(this.#redis, [userKey, expiringKey], [parsedKey.contractId, parsedKey.userId])) as number;
      const count = await this.#redis.hdel(userKey, parsedKey.contractId);
      await this.#redis.zrem(expiringKey, parsedKey.userId);
      return count;
    });
    return removed > 0;
  }

  /**
   * Every record of `userId`, one per contract. One `HGETALL`.
   *
   * @example
   * ```ts
   * const records = await store.listByUser("alice");
   * ```
   */
  async listByUser(userId: string): Promise<StoredCredentials[]> {
    const id = parseUserId(userId);
    const fields = await this.#calls.run("RedisTokenStore.listByUser", () => this.#redis.hgetall(this.#userKey(id)));
    return Object.entries(fields).map(([contractId, raw]) => this.#decode({ userId: id, contractId }, raw));
  }

  /**
   * Takes the refresh lease of `key` with `SET NX PX`: `true` if it was free.
   * The lease expires by Redis's clock after `options.ttlMs`.
   *
   * @example
   * ```ts
   * if (await store.acquireRefreshLease(key, { owner: randomUUID(), ttlMs: 10_000 })) console.log("refreshing");
   * ```
   */
  /**
   * The contract's records whose refresh token expires before
   * `options.refreshTokenExpiresBefore`, soonest first (token upkeep). Read
   * from a sorted set per contract that `set` and `delete` keep up to date
   * (in the same script on a single Redis; right after it on a Cluster).
   * Records stored before this index existed join it on their next `set`.
   *
   * @example
   * ```ts
   * const soon = await store.listExpiring("c1", { refreshTokenExpiresBefore: Date.now() + 86_400_000, limit: 100 });
   * ```
   */
  async listExpiring(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]> {
    const parsed = parseListExpiring(contractId, options);
    const { refreshTokenExpiresBefore: before, limit, after } = parsed.options;
    const index = this.#expiringKey(parsed.contractId);
    const min = after === undefined ? "-inf" : String(after.refreshTokenExpiresAt);
    const found: StoredCredentials[] = [];
    for (let offset = 0; found.length < limit; ) {
      const batch = await this.#calls.run("RedisTokenStore.listExpiring", () => this.#redis.zrangebyscore(index, min, `(${before}`, "WITHSCORES", "LIMIT", offset, limit));
      if (batch.length === 0) break;
      offset += batch.length / 2;
      for (let i = 0; i < batch.length && found.length < limit; i += 2) {
        const userId = batch[i]!;
        const score = Number(batch[i + 1]);
        if (after !== undefined && score === after.refreshTokenExpiresAt && userId <= after.userId) continue;
        const record = await this.get({ userId, contractId: parsed.contractId });
        // The record is the truth; an index entry a Cluster could not update yet is passed over.
        if (record !== undefined && refreshExpiresAt(record) < before) found.push(record);
      }
    }
    return found;
  }

  async acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    const reply = await this.#calls.run("RedisTokenStore.acquireRefreshLease", () =>
      this.#redis.set(this.#leaseKey(parsedKey), owner, "PX", ttlMs, "NX"),
    );
    return reply === "OK";
  }

  /**
   * Extends `owner`'s refresh lease of `key` to `options.ttlMs` from now
   * (checked and extended in one Lua script); `false` once it is not `owner`'s.
   *
   * @example
   * ```ts
   * const stillMine = await store.renewRefreshLease(key, { owner, ttlMs: 3_000 });
   * ```
   */
  async renewRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const parsedKey = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    const renewed = await this.#calls.run("RedisTokenStore.renewRefreshLease", () => RENEW_IF_OWNER.run(this.#redis, [this.#leaseKey(parsedKey)], [owner, String(ttlMs)]));
    return renewed === 1;
  }

  /**
   * Releases the refresh lease of `key` if `owner` still holds it (checked and
   * deleted in one Lua script, so a late holder cannot free a successor's lease).
   *
   * @example
   * ```ts
   * await store.releaseRefreshLease(key, owner);
   * ```
   */
  async releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void> {
    const parsedKey = parseCredentialsKey(key);
    const parsedOwner = parseLeaseOwner(owner);
    await this.#calls.run("RedisTokenStore.releaseRefreshLease", () => RELEASE_IF_OWNER.run(this.#redis, [this.#leaseKey(parsedKey)], [parsedOwner]));
  }

  /**
   * Quits the Redis client if the store made it (from `connection`); a
   * borrowed `client` is left open for its owner.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.#owned) return;
    // QUIT waits for the server's reply; a Redis that is down or silent gets a bounded wait, then the socket is dropped.
    await this.#calls.run("RedisTokenStore.close", () => this.#redis.quit()).catch(() => this.#redis.disconnect());
  }

  /** Shows the key prefix only: `util.inspect` must never print a token or the client's credentials. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `RedisTokenStore { keyPrefix: ${JSON.stringify(this.#prefix)} }`;
  }

  // One variable part per key, so no user id can reach another user's key.
  #userKey(userId: string): string {
    return `${this.#prefix}tokens:${userId}`;
  }

  // One variable part: the contract's index of refresh-token expiries (members are user ids).
  #expiringKey(contractId: string): string {
    return `${this.#prefix}expiring:${contractId}`;
  }

  // Two variable parts: JSON encodes the pair without ambiguity ("a:b"/"c" differs from "a"/"b:c").
  #leaseKey(key: CredentialsKey): string {
    return `${this.#prefix}lease:${JSON.stringify([key.userId, key.contractId])}`;
  }

  #decode(key: CredentialsKey, raw: string): StoredCredentials {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    const parsed = storedValueSchema.safeParse(value);
    if (!parsed.success) {
      // The record is left as it is: nothing is lost, and the message names no value.
      throw new TokenStoreError(`RedisTokenStore: a field of ${this.#prefix}tokens:* is not a valid token record (${parsed.error.issues.length} issue(s))`);
    }
    const { version, updatedAt, credentials } = parsed.data;
    return buildStoredCredentials(key, credentials as Credentials, version, updatedAt);
  }
}
