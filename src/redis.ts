/**
 * Redis-backed stores for apps that run in several processes or on several
 * machines: tokens with refresh leases, and pending authorizations. Needs the
 * optional peer dependency `ioredis`.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { RedisPendingAuthorizationStore, RedisTokenStore } from "digime-write-pipeline/redis";
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const client = new WriteClient({
 *   ...options,
 *   tokenStore: new RedisTokenStore({ client: redis }),
 *   pendingAuthorizations: new RedisPendingAuthorizationStore({ client: redis }),
 * });
 * ```
 * @module digime-write-pipeline/redis
 */
export { RedisTokenStore, type RedisTokenStoreOptions } from "./stores/redis/redis-token-store.js";
export { RedisPendingAuthorizationStore, type RedisPendingAuthorizationStoreOptions } from "./stores/redis/redis-pending-store.js";
export type { RedisStoreConnectionOptions } from "./stores/redis/connection.js";
