/**
 * Ids that would collide or break a backend are refused at every entry with
 * INVALID_ARGUMENT naming the field. `"Jos\uD800"` is stored as the bytes of
 * `"Jos\uFFFD"` by Redis and PostgreSQL (one token slot for two users), and a
 * NUL makes every PostgreSQL write fail, so neither may get in anywhere.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileTokenStore, MemoryPendingAuthorizationStore, MemoryTokenStore, ValidationError, WriteClient, encryptedTokenStore, type TokenStore } from "../../src/index.js";
import { DurableWriteQueue } from "../../src/bullmq.js";
import { PostgresPendingAuthorizationStore, PostgresTokenStore } from "../../src/postgres.js";
import { RedisPendingAuthorizationStore, RedisTokenStore } from "../../src/redis.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const BAD_IDS: Array<[string, string]> = [
  ["a lone high surrogate", "Jos\uD800"],
  ["a lone low surrogate", "\uDC00Jos"],
  ["a NUL", "alice\u0000"],
  ["a line feed", "alice\nINFO forged"],
  ["an escape sequence", "\u001b[31malice"],
  ["a C1 control", "alice\u0085"],
  ["a DEL", "alice\u007f"],
];
const GOOD_IDS = ["Jos\uFFFD", "José", "👩‍💻 user", "__proto__", "a:b|c", "~alice {1}"];

const directory = mkdtempSync(nodePath.join(tmpdir(), "digime-ids-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const offlinePool = { query: () => Promise.reject(new Error("no query expected")) } as never;
const sandbox = createSandbox();
const client = new WriteClient({
  sdk: sandbox.sdk("v16"),
  contractDetails: sandbox.contractDetails,
  redirectUri: REDIRECT_URI,
  tokenStore: new MemoryTokenStore(),
  stateSecret: STATE_SECRET,
});
const token = { accessToken: { value: "access-token-value", expiry: 2_000_000_000 }, refreshToken: { value: "refresh-token-value", expiry: 2_100_000_000 } };
const stores: Array<[string, TokenStore]> = [
  ["MemoryTokenStore", new MemoryTokenStore()],
  ["FileTokenStore", new FileTokenStore({ path: nodePath.join(directory, "tokens.json") })],
  ["RedisTokenStore", new RedisTokenStore({ connection: { lazyConnect: true } })],
  ["PostgresTokenStore", new PostgresTokenStore({ pool: offlinePool })],
  ["encryptedTokenStore", encryptedTokenStore(new MemoryTokenStore(), { keys: ["8p0Hd2l5Xo0r1wq3s0eZ9YkQ7vTnA4mB6cJ2fLhR5uE"] })],
];
const pendingStores = [
  ["MemoryPendingAuthorizationStore", new MemoryPendingAuthorizationStore()],
  ["RedisPendingAuthorizationStore", new RedisPendingAuthorizationStore({ connection: { lazyConnect: true } })],
  ["PostgresPendingAuthorizationStore", new PostgresPendingAuthorizationStore({ pool: offlinePool })],
] as const;

async function refusal(call: () => unknown): Promise<ValidationError> {
  let outcome: unknown = "accepted";
  try {
    await call();
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(ValidationError);
  expect((outcome as ValidationError).code).toBe("INVALID_ARGUMENT");
  return outcome as ValidationError;
}

const paths = (error: ValidationError) => error.issues.map((issue) => issue.path);

describe.each(BAD_IDS)("an id with %s is refused with INVALID_ARGUMENT", (_name, bad) => {
  it("by the client: beginAuthorization, completeAuthorization's expectedUserId, write, authorizationStatus", async () => {
    expect(paths(await refusal(() => client.beginAuthorization({ userId: bad })))).toEqual(["input.userId"]);
    const callback = `${REDIRECT_URI}?success=true&code=abc&state=${"s".repeat(43)}`;
    expect(paths(await refusal(() => client.completeAuthorization(callback, { expectedUserId: bad })))).toEqual(["options.expectedUserId"]);
    expect(paths(await refusal(() => client.write(bad, jsonFile(1))))).toEqual(["userId"]);
    expect(paths(await refusal(() => client.authorizationStatus(bad)))).toEqual(["userId"]);
  });

  it("by new WriteClient as the contract id (INVALID_OPTIONS)", () => {
    expect(
      () => new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: { ...sandbox.contractDetails, contractId: bad }, redirectUri: REDIRECT_URI, tokenStore: new MemoryTokenStore() }),
    ).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS", issues: [expect.objectContaining({ path: "options.contractDetails.contractId" })] }));
  });

  it.each(stores)("by %s: get, set, delete, listByUser, leases, listExpiring", async (_store, store) => {
    const key = { userId: bad, contractId: "c1" };
    expect(paths(await refusal(() => store.get(key)))).toEqual(["key.userId"]);
    expect(paths(await refusal(() => store.get({ userId: "alice", contractId: bad })))).toEqual(["key.contractId"]);
    expect(paths(await refusal(() => store.set(key, { userAccessToken: token }, { expectedVersion: null })))).toEqual(["key.userId"]);
    expect(paths(await refusal(() => store.delete(key)))).toEqual(["key.userId"]);
    expect(paths(await refusal(() => store.listByUser(bad)))).toEqual(["userId"]);
    if (store.acquireRefreshLease !== undefined) expect(paths(await refusal(() => store.acquireRefreshLease!(key, { owner: "o", ttlMs: 1000 })))).toEqual(["key.userId"]);
    if (store.listExpiring !== undefined) expect(paths(await refusal(() => store.listExpiring!(bad, { refreshTokenExpiresBefore: 1, limit: 1 })))).toEqual(["contractId"]);
  });

  it.each(pendingStores)("by %s: save", async (_store, store) => {
    const bundle = { state: "s".repeat(43), codeVerifier: "v".repeat(43), userId: bad, contractId: "c1", expiresAt: Date.now() + 60_000 };
    expect(paths(await refusal(() => store.save(bundle)))).toEqual(["bundle.userId"]);
    expect(paths(await refusal(() => store.save({ ...bundle, userId: "alice", contractId: bad })))).toEqual(["bundle.contractId"]);
  });

  it("by DurableWriteQueue.enqueue, before Redis is asked", async () => {
    const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: 1, lazyConnect: true, retryStrategy: () => null }, queueName: "ids-never-used" });
    try {
      expect(paths(await refusal(() => queue.enqueue(bad, jsonFile(1))))).toEqual(["userId"]);
    } finally {
      await queue.close();
    }
  });
});

describe("well-formed ids, however unusual, are accepted", () => {
  it.each(GOOD_IDS)("%j works end to end", async (userId) => {
    const { url, sealed } = await client.beginAuthorization({ userId });
    await expect(client.completeAuthorization(await sandbox.consent(url), { sealed })).resolves.toMatchObject({ userId });
    await expect(client.write(userId, jsonFile(1))).resolves.toMatchObject({ status: "delivered", userId });
  });

  it("two ids that differ only by a lone surrogate can never both exist", async () => {
    const store = new MemoryTokenStore();
    await expect(store.set({ userId: "Jos\uFFFD", contractId: "c1" }, { userAccessToken: token }, { expectedVersion: null })).resolves.toMatchObject({ status: "stored" });
    await expect(store.set({ userId: "Jos\uD800", contractId: "c1" }, { userAccessToken: token }, { expectedVersion: null })).rejects.toBeInstanceOf(ValidationError);
  });
});
