/**
 * The Redis connection a store runs on, and the key layout under its prefix.
 * A store given a `client` borrows it (the caller closes it); a store given
 * `connection` owns the client it makes and quits it on `close()`.
 */
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { RedisClient } from "../../internal/peers/ioredis.js";
import { z } from "zod";
import { callTimeoutSchema } from "../store-failure.js";

/**
 * How a Redis-backed store reaches Redis: pass exactly one of `client` and
 * `connection`.
 *
 * @example
 * ```ts
 * const shared: RedisStoreConnectionOptions = { client: new Redis(process.env.REDIS_URL!), keyPrefix: "my-app:digime:" };
 * const owned: RedisStoreConnectionOptions = { connection: "redis://127.0.0.1:6379" };
 * ```
 */
export interface RedisStoreConnectionOptions {
  /**
   * An ioredis client (or `Cluster`) you already have. The store borrows it:
   * closing it, and listening to its `error` events, stay your job. Its own
   * settings decide how long it queues commands while Redis is away; the
   * store's `callTimeoutMs` bounds what the library waits either way (see
   * the token stores guide for settings that fail fast).
   * @defaultValue none: pass `client` or `connection`, exactly one
   */
  readonly client?: Redis | Cluster | undefined;
  /**
   * A `redis://` URL or ioredis options: the store makes its own client and
   * quits it on `close()`. Unless you set them, that client uses
   * `connectTimeout: 2000` and `maxRetriesPerRequest: 1`, so a command
   * meets a Redis that is down within seconds instead of after ioredis's 20
   * reconnection rounds.
   * @defaultValue none: pass `client` or `connection`, exactly one
   */
  readonly connection?: string | RedisOptions | undefined;
  /**
   * A call that has not answered after this many ms fails with a retryable
   * `TOKEN_STORE_FAILED`, however long the client would go on queueing or
   * retrying it, so a down server is reported fast and a write with a valid
   * cached token carries on. From 1 to 600,000.
   * @defaultValue `3000`
   */
  readonly callTimeoutMs?: number | undefined;
  /**
   * Put before every key the store writes, so several apps (or tests) can share one Redis.
   * @defaultValue `"digime:"`
   */
  readonly keyPrefix?: string | undefined;
}

/** The commands the stores use; both `Redis` and `Cluster` have them. */
export interface RedisCommands {
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, field: string): Promise<number>;
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<"OK" | null>;
  set(key: string, value: string, pxat: "PXAT", at: number, nx: "NX"): Promise<"OK" | null>;
  evalsha(sha: string, numKeys: number, ...args: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>;
  zadd(key: string, score: string, member: string): Promise<unknown>;
  zrem(key: string, member: string): Promise<number>;
  zrangebyscore(key: string, min: string, max: string, withScores: "WITHSCORES", limit: "LIMIT", offset: number, count: number): Promise<string[]>;
  quit(): Promise<unknown>;
  disconnect(): void;
  /** Set on an ioredis `Cluster`. */
  readonly isCluster?: boolean;
}

/** What the Redis stores put before every key when the app sets no `keyPrefix`. */
export const DEFAULT_KEY_PREFIX = "digime:";

/**
 * Settings of a client the store makes, under whatever the app
 * passes: ioredis's defaults (a 10 s connect timeout, 20 retries per command)
 * kept a command to a Redis that was down at start waiting 73 s (issue 16).
 */
export const OWNED_CLIENT_DEFAULTS = Object.freeze({ connectTimeout: 2_000, maxRetriesPerRequest: 1 } satisfies RedisOptions);

/** Schema of the connection options shared by the Redis stores. */
export const redisConnectionSchema = z
  // strict: a misspelt option (say `keyprefix`) is an error, not a silent default.
  .strictObject({
    client: z
      .custom<Redis | Cluster>((value) => typeof value === "object" && value !== null && typeof (value as { evalsha?: unknown }).evalsha === "function", {
        error: "must be an ioredis client (Redis or Cluster)",
      })
      .optional(),
    connection: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())], { error: "must be a redis:// URL or ioredis options" })
      .optional(),
    keyPrefix: z
      .string({ error: "must be a string of 1 to 256 characters" })
      .min(1, { error: "must be a string of 1 to 256 characters" })
      .max(256, { error: "must be a string of 1 to 256 characters" })
      .optional(),
    callTimeoutMs: callTimeoutSchema.optional(),
  })
  .refine((options) => (options.client === undefined) !== (options.connection === undefined), {
    error: "pass exactly one of client and connection",
    path: ["client"],
  });

/** A store's resolved connection: the client, whether the store owns it, and the prefix. */
export interface RedisConnection {
  readonly redis: RedisCommands;
  readonly owned: boolean;
  readonly keyPrefix: string;
}

/** The app's client as given, or one the store makes from `connection` (and so owns, and quits on close). */
export function openConnection(options: z.output<typeof redisConnectionSchema>): RedisConnection {
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (options.client !== undefined) return { redis: options.client as unknown as RedisCommands, owned: false, keyPrefix };
  const { connection } = options;
  const client = typeof connection === "string" ? new RedisClient(connection, OWNED_CLIENT_DEFAULTS) : new RedisClient({ ...OWNED_CLIENT_DEFAULTS, ...(connection as RedisOptions) });
  // Without a listener ioredis prints every connection error to the console; they reach callers as rejected commands instead.
  client.on("error", () => undefined);
  return { redis: client as unknown as RedisCommands, owned: true, keyPrefix };
}
