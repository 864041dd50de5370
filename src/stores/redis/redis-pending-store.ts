/**
 * A {@link PendingAuthorizationStore} in Redis: any server can complete an
 * authorization another server began, and a state is taken once across all.
 *
 * One key per state under the prefix, `pending:<state>`: while pending it
 * holds `P<expiresAt>:<bundle JSON>` and expires with the bundle (PXAT);
 * consumed, it holds a used marker until `usedUntil`.
 */
import { TokenStoreError } from "../../errors.js";
import { authorizationBundleSchema, type AuthorizationBundle } from "../../authorization/bundle.js";
import type { ConsumeResult, PendingAuthorizationStore } from "../pending-store.js";
import { parseBundle, parseConsumeArguments } from "../pending-arguments.js";
import { parseStoreOptions } from "../parse-options.js";
import { DEFAULT_CALL_TIMEOUT_MS, StoreCalls } from "../store-failure.js";
import { openConnection, redisConnectionSchema, type RedisCommands, type RedisStoreConnectionOptions } from "./connection.js";
import { CONSUME_PENDING } from "./script.js";

/**
 * Options of {@link RedisPendingAuthorizationStore}: the same connection
 * options as the token store (they can share one client).
 *
 * @example
 * ```ts
 * const pending = new RedisPendingAuthorizationStore({ client: redis } satisfies RedisPendingAuthorizationStoreOptions);
 * ```
 */
export interface RedisPendingAuthorizationStoreOptions extends RedisStoreConnectionOptions {}

/**
 * Pending authorizations in Redis, one-time use across every process.
 *
 * A pending bundle holds the PKCE code verifier: Redis keeps it, as JSON,
 * until the callback consumes it or the bundle expires (the key's expiry is
 * the bundle's `expiresAt`), whichever comes first. An expired bundle is gone:
 * its callback answers `unknown` rather than `found`.
 *
 * @example
 * ```ts
 * import { RedisPendingAuthorizationStore } from "digime-write-pipeline/redis";
 *
 * const client = new WriteClient({ ...options, pendingAuthorizations: new RedisPendingAuthorizationStore({ client: redis }) });
 * ```
 */
export class RedisPendingAuthorizationStore implements PendingAuthorizationStore {
  readonly #redis: RedisCommands;
  readonly #calls: StoreCalls;
  readonly #owned: boolean;
  readonly #prefix: string;

  constructor(options: RedisPendingAuthorizationStoreOptions) {
    const parsed = parseStoreOptions(redisConnectionSchema, options, "RedisPendingAuthorizationStore");
    const connection = openConnection(parsed);
    this.#redis = connection.redis;
    this.#calls = new StoreCalls(parsed.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    this.#owned = connection.owned;
    this.#prefix = connection.keyPrefix;
  }

  /**
   * Keeps `bundle` until `bundle.expiresAt` (`SET NX PXAT`). A state that is
   * already pending or used is refused: states are random, so that is a bug
   * or an attack, never something to overwrite.
   *
   * @throws {@link digime-write-pipeline!TokenStoreError} when the state exists or Redis fails.
   * @example
   * ```ts
   * await pending.save(bundle);
   * ```
   */
  async save(bundle: AuthorizationBundle): Promise<void> {
    const parsed = parseBundle(bundle);
    const value = `P${parsed.expiresAt}:${JSON.stringify(parsed)}`;
    const reply = await this.#calls.run(
      "RedisPendingAuthorizationStore.save",
      () => this.#redis.set(this.#key(parsed.state), value, "PXAT", parsed.expiresAt, "NX"),
      [parsed.codeVerifier],
    );
    if (reply !== "OK") throw new TokenStoreError("RedisPendingAuthorizationStore.save: a pending authorization with this state already exists");
  }

  /**
   * Takes the bundle saved under `state` and marks the state used until
   * `usedUntil`, atomically (one Lua script): of any number of concurrent
   * calls, from any process, exactly one gets `found`.
   *
   * @example
   * ```ts
   * const result = await pending.consume(state, Date.now() + 600_000);
   * if (result.status === "found") console.log(result.bundle.userId);
   * ```
   */
  async consume(state: string, usedUntil: number): Promise<ConsumeResult> {
    const { state: parsedState, usedUntil: until } = parseConsumeArguments(state, usedUntil);
    const previous = await this.#calls.run("RedisPendingAuthorizationStore.consume", () =>
      CONSUME_PENDING.run(this.#redis, [this.#key(parsedState)], [String(until)]),
    );
    if (typeof previous !== "string") return { status: "unknown" };
    if (previous.startsWith("U")) return { status: "used" };
    return { status: "found", bundle: this.#decode(previous) };
  }

  /**
   * Quits the Redis client if the store made it; a borrowed `client` stays open.
   *
   * @example
   * ```ts
   * await pending.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.#owned) return;
    // QUIT waits for the server's reply; a Redis that is down or silent gets a bounded wait, then the socket is dropped.
    await this.#calls.run("RedisPendingAuthorizationStore.close", () => this.#redis.quit()).catch(() => this.#redis.disconnect());
  }

  /** Shows the key prefix only: never a state or a code verifier. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `RedisPendingAuthorizationStore { keyPrefix: ${JSON.stringify(this.#prefix)} }`;
  }

  #key(state: string): string {
    return `${this.#prefix}pending:${state}`;
  }

  #decode(value: string): AuthorizationBundle {
    const json = value.slice(value.indexOf(":") + 1);
    let bundle: unknown;
    try {
      bundle = JSON.parse(json);
    } catch {
      bundle = undefined;
    }
    const parsed = authorizationBundleSchema.safeParse(bundle);
    if (!parsed.success) throw new TokenStoreError("RedisPendingAuthorizationStore.consume: the stored bundle is not a valid authorization bundle");
    return parsed.data as AuthorizationBundle;
  }
}
