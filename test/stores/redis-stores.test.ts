/**
 * RedisTokenStore and RedisPendingAuthorizationStore against a real Redis
 * (REDIS_URL, default redis://127.0.0.1:6379). Every store gets a key prefix
 * of its own under this run's prefix; the run's keys are deleted at the end.
 */
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStoreError, ValidationError } from "../../src/errors.js";
import { RedisPendingAuthorizationStore, RedisTokenStore } from "../../src/redis.js";
import type { RedisCommands } from "../../src/stores/redis/connection.js";
import { RedisScript } from "../../src/stores/redis/script.js";
import { createSandbox } from "../../src/testing/index.js";
import { pendingStoreContract } from "../../src/testing/pending-store-contract.js";
import { tokenStoreContract } from "../../src/testing/token-store-contract.js";
import { WriteClient } from "../../src/write-client.js";
import { REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { jsonFile, REDIRECT_URI } from "../support/setup.js";
import { everythingShown, pendingBundle as bundle, rejectedOptionPaths, rejectionOf, secretToken as token } from "../support/store-fixtures.js";

const available = await redisAvailable("Redis stores");
const RUN_PREFIX = `digime-test:${uniqueSuffix()}:`;
let storeCounter = 0;
let redis: Redis;
const extraClients: Redis[] = [];

/** A second connection, as another process would have. */
function anotherConnection(): Redis {
  const client = new Redis(REDIS_URL);
  extraClients.push(client);
  return client;
}

function freshPrefix(): string {
  storeCounter += 1;
  return `${RUN_PREFIX}${storeCounter}:`;
}

describe.skipIf(!available)("Redis stores (Redis at REDIS_URL)", () => {
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
      if (redis === undefined) return;
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await redis.scan(cursor, "MATCH", `${RUN_PREFIX}*`, "COUNT", 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      if (keys.length > 0) await redis.del(...keys);
      await Promise.all([redis, ...extraClients].map((client) => client.quit()));
  });

  describe("RedisTokenStore", () => {

    describe("tokenStoreContract with leases", () => {
      for (const c of tokenStoreContract(() => new RedisTokenStore({ client: redis, keyPrefix: freshPrefix() }), { leases: true, listExpiring: true })) {
        it(c.name, c.run);
      }
    });

    it("shares records and leases between stores on separate connections", async () => {
      const keyPrefix = freshPrefix();
      const a = new RedisTokenStore({ client: redis, keyPrefix });
      const b = new RedisTokenStore({ client: anotherConnection(), keyPrefix });
      const key = { userId: "alice", contractId: "contract-1" };
      const created = await a.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
      expect(await b.get(key)).toEqual(created.status === "stored" ? created.record : undefined);
      expect(await a.acquireRefreshLease(key, { owner: "process-a", ttlMs: 60_000 })).toBe(true);
      expect(await b.acquireRefreshLease(key, { owner: "process-b", ttlMs: 60_000 })).toBe(false);
      expect((await b.set(key, { userAccessToken: token("stale") }, { expectedVersion: null })).status).toBe("conflict");
    });

    it("answers get, set, delete and listByUser with one Redis command each", async () => {
      const calls: string[] = [];
      // Counts the commands the store sends: each is one round trip.
      const counting = new Proxy(redis, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            calls.push(String(property));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const store = new RedisTokenStore({ client: counting, keyPrefix: freshPrefix() });
      const key = { userId: "alice", contractId: "contract-1" };
      const perOperation: Record<string, number> = {};
      const measure = async (name: string, action: () => Promise<unknown>): Promise<void> => {
        calls.length = 0;
        await action();
        perOperation[name] = calls.length;
      };
      await store.set(key, { userAccessToken: token("warm-up") }, { expectedVersion: null }); // loads the script once
      await measure("get", () => store.get(key));
      await measure("set", () => store.set(key, { userAccessToken: token("2") }, { expectedVersion: 1 }));
      await measure("set (conflict)", () => store.set(key, { userAccessToken: token("3") }, { expectedVersion: 1 }));
      await measure("listByUser", () => store.listByUser("alice"));
      await measure("acquireRefreshLease", () => store.acquireRefreshLease(key, { owner: "o", ttlMs: 1_000 }));
      await measure("releaseRefreshLease", () => store.releaseRefreshLease(key, "o"));
      await measure("delete", () => store.delete(key));
      expect(perOperation).toEqual({
        get: 1,
        set: 1,
        "set (conflict)": 1,
        listByUser: 1,
        acquireRefreshLease: 1,
        releaseRefreshLease: 1,
        delete: 1,
      });
    });

    it("loads a script the server does not know (after a restart, a failover or SCRIPT FLUSH) and runs it", async () => {
      // A script no server has seen answers EVALSHA with NOSCRIPT, as every script does after a restart.
      // (SCRIPT FLUSH would show the same, but empties the cache of everyone sharing this Redis.)
      const script = new RedisScript(`return ARGV[1] -- ${randomUUID()}`);
      expect(await script.run(redis as unknown as RedisCommands, [], ["loaded"])).toBe("loaded");
      expect(await script.run(redis as unknown as RedisCommands, [], ["cached"])).toBe("cached");
    });

    it("rejects bad options with INVALID_OPTIONS naming the field", () => {
    const attempts: Array<[unknown, string]> = [
      [{ client: redis, keyPrefix: "" }, "options.keyPrefix"],
      [{ client: redis, connection: REDIS_URL }, "options.client"],
      [{}, "options.client"],
      [{ client: { get: () => undefined } }, "options.client"],
      [{ connection: 42 }, "options.connection"],
      [{ client: redis, keyprefix: "typo:" }, "options.keyprefix"],
    ];
    for (const [options, field] of attempts) {
      expect(rejectedOptionPaths(() => new RedisTokenStore(options as never))).toContain(field);
      expect(rejectedOptionPaths(() => new RedisPendingAuthorizationStore(options as never))).toContain(field);
    }
  });

  it("rejects a bad key or set options with INVALID_ARGUMENT naming the field, before reaching Redis", async () => {
      const store = new RedisTokenStore({ client: redis, keyPrefix: freshPrefix() });
      const error = await rejectionOf(store.set({ userId: "", contractId: "c" }, { userAccessToken: token("1") }, { expectedVersion: 0 }));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toContain("key.userId");
    });

    it("shows neither tokens nor the connection's password in util.inspect", async () => {
      const store = new RedisTokenStore({ client: redis, keyPrefix: freshPrefix() });
      const userAccessToken = token("inspect");
      await store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null });
      const owned = new RedisTokenStore({ connection: { host: "127.0.0.1", port: 6379, password: "connection-password-secret", lazyConnect: true } });
      for (const shown of [inspect(store, { depth: 10, showHidden: true }), inspect(owned, { depth: 10, showHidden: true })]) {
        expect(shown).not.toContain(userAccessToken.accessToken.value);
        expect(shown).not.toContain(userAccessToken.refreshToken.value);
        expect(shown).not.toContain("connection-password-secret");
      }
      await owned.close();
    });

    it("wraps a Redis error in TokenStoreError without the command's arguments (the tokens)", async () => {
      const keyPrefix = freshPrefix();
      const store = new RedisTokenStore({ client: redis, keyPrefix });
      // A string where the user's hash belongs: Redis refuses the script, and ioredis's error holds the EVALSHA arguments.
      await redis.set(`${keyPrefix}tokens:alice`, "not a hash");
      const userAccessToken = token("leak");
      const error = await rejectionOf(store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as TokenStoreError).code).toBe("TOKEN_STORE_FAILED");
      expect((error as TokenStoreError).message).toContain("WRONGTYPE");
      const shown = everythingShown(error);
      expect(shown).not.toContain(userAccessToken.accessToken.value);
      expect(shown).not.toContain(userAccessToken.refreshToken.value);
    });

    it("wraps a connection failure in a retryable TokenStoreError that carries no token", async () => {
      // Port 1 refuses connections; no retries, so the set fails at once.
      const store = new RedisTokenStore({ connection: { host: "127.0.0.1", port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null } });
      const userAccessToken = token("down");
      const error = await rejectionOf(store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as TokenStoreError).retryable).toBe(true);
      const shown = everythingShown(error);
      expect(shown).not.toContain(userAccessToken.accessToken.value);
      expect(shown).not.toContain(userAccessToken.refreshToken.value);
      await store.close().catch(() => undefined);
    });

    it("reports a record that is not a token record as TokenStoreError, naming no value", async () => {
      const keyPrefix = freshPrefix();
      const store = new RedisTokenStore({ client: redis, keyPrefix });
      await redis.hset(`${keyPrefix}tokens:alice`, "c", '{"version":1,"updatedAt":1,"credentials":{"userAccessToken":"garbage-secret"}}');
      const error = await rejectionOf(store.get({ userId: "alice", contractId: "c" }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain("garbage-secret");
    });
  });

  describe("RedisPendingAuthorizationStore", () => {
    describe("pendingStoreContract", () => {
      for (const c of pendingStoreContract(() => new RedisPendingAuthorizationStore({ client: redis, keyPrefix: freshPrefix() }))) it(c.name, c.run);
    });

    it("keeps a bundle no longer than its expiry", async () => {
      const keyPrefix = freshPrefix();
      const store = new RedisPendingAuthorizationStore({ client: redis, keyPrefix });
      const expired = bundle({ expiresAt: Date.now() - 1 });
      await store.save(expired);
      expect(await store.consume(expired.state, Date.now() + 60_000)).toEqual({ status: "unknown" });
      const live = bundle();
      await store.save(live);
      expect(await redis.pexpiretime(`${keyPrefix}pending:${live.state}`)).toBe(live.expiresAt);
    });

    it("refuses to save over a state that exists", async () => {
      const store = new RedisPendingAuthorizationStore({ client: redis, keyPrefix: freshPrefix() });
      const saved = bundle();
      await store.save(saved);
      const error = await rejectionOf(store.save({ ...saved, codeVerifier: "other-verifier" }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain(saved.codeVerifier);
      expect(await store.consume(saved.state, saved.expiresAt)).toEqual({ status: "found", bundle: saved });
    });

    it("gives a state to exactly one of two stores on separate connections consuming it at once", async () => {
      const keyPrefix = freshPrefix();
      const a = new RedisPendingAuthorizationStore({ client: redis, keyPrefix });
      const b = new RedisPendingAuthorizationStore({ client: anotherConnection(), keyPrefix });
      const bundles = Array.from({ length: 25 }, () => bundle());
      for (const saved of bundles) await a.save(saved);
      for (const saved of bundles) {
        const results = await Promise.all([a.consume(saved.state, saved.expiresAt), b.consume(saved.state, saved.expiresAt)]);
        expect(results.map((r) => r.status).sort()).toEqual(["found", "used"]);
      }
    });

    it("shows no code verifier in util.inspect or in a failure", async () => {
      const store = new RedisPendingAuthorizationStore({ client: redis, keyPrefix: freshPrefix() });
      const saved = bundle();
      await store.save(saved);
      expect(inspect(store, { depth: 10, showHidden: true })).not.toContain(saved.codeVerifier);
      const down = new RedisPendingAuthorizationStore({ connection: { host: "127.0.0.1", port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null } });
      const error = await rejectionOf(down.save(saved));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain(saved.codeVerifier);
    });

    it("rejects a bad state or usedUntil with INVALID_ARGUMENT naming it", async () => {
      const store = new RedisPendingAuthorizationStore({ client: redis, keyPrefix: freshPrefix() });
      const noState = await rejectionOf(store.consume("", Date.now()));
      expect((noState as ValidationError).code).toBe("INVALID_ARGUMENT");
      expect((noState as ValidationError).message).toContain("state");
      const noTime = await rejectionOf(store.consume("some-state-value-123", Number.NaN));
      expect((noTime as ValidationError).message).toContain("usedUntil");
    });

    it("lets one server begin an authorization and another complete it and write", async () => {
      const sandbox = createSandbox();
      const keyPrefix = freshPrefix();
      const makeClient = (connection: Redis): WriteClient =>
        new WriteClient({
          sdk: sandbox.sdk("v16"),
          contractDetails: sandbox.contractDetails,
          redirectUri: REDIRECT_URI,
          tokenStore: new RedisTokenStore({ client: connection, keyPrefix }),
          pendingAuthorizations: new RedisPendingAuthorizationStore({ client: connection, keyPrefix }),
        });
      const first = makeClient(redis);
      const second = makeClient(anotherConnection());
      const { url } = await first.beginAuthorization({ userId: "alice" });
      const callback = await sandbox.consent(url);
      // No sealed bundle: the second server finds the verifier in Redis.
      await second.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "alice" });
      const receipt = await first.write("alice", jsonFile(1));
      expect(receipt.status).toBe("delivered");
      await expect(second.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "alice" })).rejects.toMatchObject({ code: "STATE_REPLAYED" });
      await Promise.all([first.close(), second.close()]);
    });
  });
});
