/**
 * encryptedTokenStore: token values sealed at rest under any TokenStore,
 * bound to user and contract, with key rotation, and the full store contract
 * (CAS, leases, listExpiring) over memory, File, Redis and PostgreSQL.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptedTokenStore, FileTokenStore, MemoryTokenStore, TokenRecordSealError, TokenStoreError, ValidationError, type TokenStore } from "../../src/index.js";
import { PostgresTokenStore } from "../../src/postgres.js";
import { RedisTokenStore } from "../../src/redis.js";
import { tokenStoreContract } from "../../src/testing/token-store-contract.js";
import { DATABASE_URL, postgresAvailable, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { setup } from "../support/setup.js";

const KEY_NEW = "q3Lr8WfVx1pZ0nT6yKc2bM9sHj4gD7aE5uR0oI8vN1Q";
const KEY_OLD = "Zt7mC2xQ9rV4kP1wL8nB6yF3hJ0dS5gA2eU7oT4iM9c";
const key = { userId: "alice", contractId: "contract-1" };
const token = (tag: string) => ({
  accessToken: { value: `eyJhbGciOiJQUzUxMiJ9.access-${tag}-secret-value.sig`, expiry: 1_900_000_000 },
  refreshToken: { value: `eyJhbGciOiJQUzUxMiJ9.refresh-${tag}-secret-value.sig`, expiry: 1_900_086_400 },
});

const redisUp = await redisAvailable("encryptedTokenStore over Redis");
const postgresUp = await postgresAvailable("encryptedTokenStore over PostgreSQL");
const RUN = uniqueSuffix();
const SCHEMA = `digime_enc_${RUN}`;
let tmpRoot: string;
let redis: Redis | undefined;
let pool: pg.Pool | undefined;
let counter = 0;

beforeAll(async () => {
  tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), "digime-encrypted-"));
  if (redisUp) redis = new Redis(REDIS_URL);
  if (postgresUp) pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
});
afterAll(async () => {
  await fs.rm(tmpRoot, { recursive: true, force: true });
  if (redis !== undefined) {
    const keys = await redis.keys(`digime-enc:${RUN}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
  if (pool !== undefined) {
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await pool.end();
  }
});

const wrap = (store: TokenStore, keys: string[] = [KEY_NEW]) => encryptedTokenStore(store, { keys });
const fileStore = () => new FileTokenStore({ path: path.join(tmpRoot, `c${++counter}`, "tokens.json") });
const redisStore = () => new RedisTokenStore({ client: redis!, keyPrefix: `digime-enc:${RUN}:${++counter}:` });
async function postgresStore(): Promise<PostgresTokenStore> {
  const store = new PostgresTokenStore({ pool: pool!, schema: SCHEMA, table: `t${++counter}` });
  await store.migrate();
  return store;
}

describe("tokenStoreContract passes for the wrapper", () => {
  describe("over MemoryTokenStore", () => {
    for (const c of tokenStoreContract(() => wrap(new MemoryTokenStore()), { leases: true, listExpiring: true })) it(c.name, c.run);
  });
  describe("over FileTokenStore", () => {
    for (const c of tokenStoreContract(() => wrap(fileStore()), { leases: true, listExpiring: true })) it(c.name, c.run);
  });
  describe.skipIf(!redisUp)("over RedisTokenStore", () => {
    for (const c of tokenStoreContract(() => wrap(redisStore()), { leases: true, listExpiring: true })) it(c.name, c.run);
  });
  describe.skipIf(!postgresUp)("over PostgresTokenStore", () => {
    for (const c of tokenStoreContract(async () => wrap(await postgresStore()), { leases: true, listExpiring: true })) it(c.name, c.run);
  });
});

describe("at rest, the wrapped store holds no token value", () => {
  const secretsOf = (t: ReturnType<typeof token>) => [t.accessToken.value, t.refreshToken.value, "access-1-secret", "refresh-1-secret"];

  it("in memory and in the token file", async () => {
    const inner = new MemoryTokenStore();
    const file = fileStore();
    for (const store of [inner, file]) await wrap(store).set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const raw = JSON.stringify(await inner.get(key));
    const onDisk = await fs.readFile(path.join(tmpRoot, `c${counter}`, "tokens.json"), "utf8");
    for (const secret of secretsOf(token("1"))) {
      expect(raw).not.toContain(secret);
      expect(onDisk).not.toContain(secret);
    }
    expect(raw).toContain("dwp:a256gcm:v1:");
    // Expiries stay readable: the wrapped store orders listExpiring by them.
    expect((await inner.get(key))?.userAccessToken.refreshToken.expiry).toBe(1_900_086_400);
  });

  it.skipIf(!redisUp)("in Redis", async () => {
    const prefix = `digime-enc:${RUN}:raw:`;
    await wrap(new RedisTokenStore({ client: redis!, keyPrefix: prefix })).set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const keys = await redis!.keys(`${prefix}*`);
    const dump = JSON.stringify(await Promise.all(keys.map(async (k) => ((await redis!.type(k)) === "hash" ? redis!.hgetall(k) : redis!.zrange(k, "0", "-1")))));
    expect(dump).toContain("dwp:a256gcm:v1:");
    for (const secret of secretsOf(token("1"))) expect(dump).not.toContain(secret);
  });

  it.skipIf(!postgresUp)("in PostgreSQL", async () => {
    const inner = await postgresStore();
    await wrap(inner).set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const { rows } = await pool!.query(`SELECT * FROM "${SCHEMA}"."t${counter}"`);
    const dump = JSON.stringify(rows);
    expect(dump).toContain("dwp:a256gcm:v1:");
    for (const secret of secretsOf(token("1"))) expect(dump).not.toContain(secret);
  });
});

describe("sealed values are bound to their user and contract", () => {
  it.each([
    ["another user", { userId: "mallory", contractId: "contract-1" }],
    ["another contract", { userId: "alice", contractId: "contract-2" }],
  ])("a ciphertext copied to %s's slot does not open (TokenRecordSealError, tampered)", async (_name, target) => {
    const inner = new MemoryTokenStore();
    const store = wrap(inner);
    await store.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const sealed = (await inner.get(key))!;
    await inner.set(target, { userAccessToken: sealed.userAccessToken }, { expectedVersion: null });
    const error = await store.get(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenRecordSealError);
    expect(error).toBeInstanceOf(TokenStoreError);
    expect(error).toMatchObject({ code: "TOKEN_STORE_FAILED", reason: "tampered", retryable: false, userId: target.userId });
  });

  it("the access token's ciphertext does not open as the refresh token", async () => {
    const inner = new MemoryTokenStore();
    const store = wrap(inner);
    await store.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const sealed = (await inner.get(key))!.userAccessToken;
    const swapped = { ...sealed, refreshToken: { ...sealed.refreshToken, value: sealed.accessToken.value } };
    await inner.set(key, { userAccessToken: swapped }, { expectedVersion: 1 });
    await expect(store.get(key)).rejects.toMatchObject({ reason: "tampered" });
  });
});

describe("keys rotate", () => {
  it("a record sealed under the old key opens with [new, old] and is re-sealed under the new key on its next write", async () => {
    const inner = new MemoryTokenStore();
    await wrap(inner, [KEY_OLD]).set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const oldValue = (await inner.get(key))!.userAccessToken.accessToken.value;
    const rotated = wrap(inner, [KEY_NEW, KEY_OLD]);
    expect((await rotated.get(key))?.userAccessToken).toEqual(token("1"));
    await rotated.set(key, { userAccessToken: token("2") }, { expectedVersion: 1 });
    const newValue = (await inner.get(key))!.userAccessToken.accessToken.value;
    // The key id (between the prefix and the body) changed: sealed under the new key, which now opens it alone.
    expect(newValue.split(":")[3]).not.toBe(oldValue.split(":")[3]);
    expect((await wrap(inner, [KEY_NEW]).get(key))?.userAccessToken).toEqual(token("2"));
  });

  it("a record under a key no longer listed is TokenRecordSealError (unknown-key), and nothing overwrites it", async () => {
    const inner = new MemoryTokenStore();
    await wrap(inner, [KEY_OLD]).set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const before = await inner.get(key);
    const store = wrap(inner, [KEY_NEW]);
    await expect(store.get(key)).rejects.toMatchObject({ reason: "unknown-key", retryable: false });
    // A blind create conflicts, and the conflict's record does not open either: the caller learns nothing it could overwrite with.
    await expect(store.set(key, { userAccessToken: token("2") }, { expectedVersion: null })).rejects.toBeInstanceOf(TokenRecordSealError);
    await expect(store.listByUser("alice")).rejects.toBeInstanceOf(TokenRecordSealError);
    expect(await inner.get(key)).toEqual(before);
  });

  it("a plain record from before the wrapper opens as it is and is sealed on its next write", async () => {
    const inner = new MemoryTokenStore();
    await inner.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const store = wrap(inner);
    expect((await store.get(key))?.userAccessToken).toEqual(token("1"));
    await store.set(key, { userAccessToken: token("2") }, { expectedVersion: 1 });
    expect((await inner.get(key))!.userAccessToken.accessToken.value).toMatch(/^dwp:a256gcm:v1:/);
    expect((await store.get(key))?.userAccessToken).toEqual(token("2"));
  });

  it("a tampered ciphertext (one bit) is TokenRecordSealError, tampered", async () => {
    const inner = new MemoryTokenStore();
    const store = wrap(inner);
    await store.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
    const sealed = (await inner.get(key))!.userAccessToken;
    const value = sealed.accessToken.value;
    const flipped = value.slice(0, -3) + (value.at(-3) === "A" ? "B" : "A") + value.slice(-2);
    await inner.set(key, { userAccessToken: { ...sealed, accessToken: { ...sealed.accessToken, value: flipped } } }, { expectedVersion: 1 });
    await expect(store.get(key)).rejects.toMatchObject({ reason: "tampered" });
  });
});

describe("options and secrecy", () => {
  it.each([
    ["no keys", { keys: [] }, "options.keys"],
    ["a passphrase", { keys: ["correct horse battery staple"] }, "options.keys[0]"],
    ["base64 of printable text", { keys: [Buffer.from("this is my very long and memorable passphrase!").toString("base64")] }, "options.keys[0]"],
    ["16 bytes", { keys: [new Uint8Array(16)] }, "options.keys[0]"],
  ])("refuses %s with INVALID_OPTIONS naming the key", (_name, options, field) => {
    const error = (() => {
      try {
        encryptedTokenStore(new MemoryTokenStore(), options as never);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toContain(field);
  });

  it("never shows its keys in inspect or JSON", () => {
    const store = wrap(new MemoryTokenStore(), [KEY_NEW, KEY_OLD]);
    const shown = `${inspect(store, { depth: 10, showHidden: true })}${JSON.stringify(store)}`;
    for (const k of [KEY_NEW, KEY_OLD]) expect(shown).not.toContain(k);
    expect(inspect(store)).toBe("EncryptedTokenStore { keys: 2 }");
  });
});

describe("a client over the wrapper", () => {
  it("authorizes, writes, refreshes and keeps only sealed tokens in the wrapped store", async () => {
    const inner = new MemoryTokenStore();
    let now = Date.UTC(2030, 0, 1);
    const h = setup("v16", { tokenStore: wrap(inner) }, { now: () => now });
    const libraryId = await h.authorize("alice");
    now += 2 * 3600 * 1000; // past the access token's hour
    await expect(h.client.write("alice", { fileData: Buffer.from("{}"), fileName: "a.json", fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "1" }] } })).resolves.toMatchObject({ status: "delivered" });
    // The 1 s access token was refreshed on the way: the new token went through the wrapper too.
    expect(h.events.some((e) => e.name === "token:refreshed")).toBe(true);
    const latest = h.sandbox.latestToken(libraryId)!;
    expect((await h.store.get({ userId: "alice", contractId: h.client.contractId }))?.userAccessToken.accessToken.value).toBe(latest.accessToken.value);
    const raw = JSON.stringify(await inner.listByUser("alice"));
    expect(raw).not.toContain(latest.accessToken.value);
    expect(raw).not.toContain(latest.refreshToken.value);
    await h.client.close();
  });
});
