/**
 * Forged callbacks cost no storage: 10,000 of them (random states, through
 * the pending store as the app opted in; with a forged sealed bundle; forged
 * denials; and with default options) leave the Redis keys and PostgreSQL rows
 * of the shared pending stores exactly where they were. A state carries a MAC
 * under the state secret, so a forged one is refused before any store is
 * asked; a denial consumes nothing.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient, type PendingAuthorizationStore } from "../../src/index.js";
import { PostgresPendingAuthorizationStore } from "../../src/postgres.js";
import { RedisPendingAuthorizationStore } from "../../src/redis.js";
import { createSandbox } from "../../src/testing/index.js";
import { DATABASE_URL, postgresAvailable, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const FORGED = 10_000;
const hasRedis = await redisAvailable("forged callbacks against the Redis pending store");
const hasPostgres = await postgresAvailable("forged callbacks against the PostgreSQL pending store");
const RUN = uniqueSuffix();
const SCHEMA = `digime_forged_${RUN}`;
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** Throw 10,000 forged callbacks at a client over `pending`, after one real authorization; return how many were refused with a typed error. */
async function flood(
  pending: PendingAuthorizationStore,
  snapshot: () => Promise<unknown>,
): Promise<{ refused: number; before: unknown; client: WriteClient; sandbox: ReturnType<typeof createSandbox>; waiting: { url: string } }> {
  const sandbox = createSandbox();
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: new MemoryTokenStore(),
    stateSecret: STATE_SECRET,
    pendingAuthorizations: pending,
  });
  // One real authorization waiting, so there is something to keep.
  const waiting = await client.beginAuthorization({ userId: "bob" });
  const before = await snapshot();
  let refused = 0;
  const code = "forged-code";
  for (let i = 0; i < FORGED; i += 1) {
    const state = randomBytes(40).toString("base64url").slice(0, 54);
    const kind = i % 4;
    const url =
      kind === 3 ? `${REDIRECT_URI}?success=false&errorCode=UserCancelled&state=${state}` : `${REDIRECT_URI}?success=true&code=${code}&state=${state}`;
    const options =
      kind === 0 ? { allowPendingStore: true, expectedUserId: "alice" } : kind === 1 ? { sealed: `${randomBytes(20).toString("base64url")}..${randomBytes(12).toString("base64url")}.AAAA.${randomBytes(16).toString("base64url")}` } : kind === 2 ? undefined : { allowPendingStore: true, expectedUserId: "alice" };
    await client.completeAuthorization(url, options).then(
      () => undefined,
      (error: { code?: string }) => {
        if (typeof error.code === "string") refused += 1;
      },
    );
  }
  return { refused, before, client, sandbox, waiting };
}

describe.skipIf(!hasRedis)("the Redis pending store", () => {
  it(`keeps the same keys after ${FORGED} forged callbacks`, async () => {
    const redis = new Redis(REDIS_URL);
    const keyPrefix = `digime-forged:${RUN}:`;
    cleanups.push(async () => {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });
    const pending = new RedisPendingAuthorizationStore({ client: redis, keyPrefix });
    const keys = async () => (await redis.keys(`${keyPrefix}*`)).sort();
    const { client, sandbox, refused, before, waiting } = await flood(pending, keys);
    expect((before as string[]).length).toBeGreaterThan(0);
    expect(await keys()).toEqual(before);
    expect(refused).toBe(FORGED);
    // The waiting authorization still completes.
    await expect(client.completeAuthorization(await sandbox.consent(waiting.url), { allowPendingStore: true, expectedUserId: "bob" })).resolves.toMatchObject({ userId: "bob" });
    await client.close();
  });
});

describe.skipIf(!hasPostgres)("the PostgreSQL pending store", () => {
  it(`keeps the same rows after ${FORGED} forged callbacks`, async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    cleanups.push(async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
      await pool.end();
    });
    const pending = new PostgresPendingAuthorizationStore({ pool, schema: SCHEMA, table: "pending" });
    await pending.migrate();
    const rows = async () => (await pool.query(`SELECT state, until_ms FROM "${SCHEMA}"."pending" ORDER BY state`)).rows;
    const { refused, client, sandbox, before, waiting } = await flood(pending, rows);
    expect((before as unknown[]).length).toBe(1);
    expect(await rows()).toEqual(before);
    expect(refused).toBe(FORGED);
    await expect(client.completeAuthorization(await sandbox.consent(waiting.url), { allowPendingStore: true, expectedUserId: "bob" })).resolves.toMatchObject({ userId: "bob" });
    await client.close();
  });
});
