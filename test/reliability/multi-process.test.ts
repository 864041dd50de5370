/**
 * The user's situation: the sandbox served over HTTP in this process, and
 * 4 worker processes, each with its own WriteClient, sharing one token store
 * (file, Redis, PostgreSQL) and writing for the same user while 4-second
 * access tokens expire again and again (short enough to expire often, long
 * enough that a loaded test machine does not stall a write past the refresh
 * margin, which would make SDKs refresh inside writes). Every write must be delivered, no
 * re-consent reported, and no spent refresh token ever presented to digi.me.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { FileTokenStore } from "../../src/index.js";
import { PostgresTokenStore } from "../../src/postgres.js";
import { RedisTokenStore } from "../../src/redis.js";
import { runFleet as runFleetWith, type FleetFigures, type SharedStore } from "../support/fleet.js";
import { findSdks } from "../support/real-sdk.js";
import { DATABASE_URL, dropKeysAndQuit, postgresAvailable, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";

const WORKERS = 4;
const WRITES_PER_WORKER = 100;
const GAP_MS = 100; // 100 writes × 100 ms: each worker writes for about 10 s, two to three token lifetimes
const ACCESS_TOKEN_SECONDS = 4;

const realSdkC = process.env.DIGIME_SDK_PATH === undefined ? undefined : findSdks().sdks.find((sdk) => sdk.generation === "C");
const [hasRedis, hasPostgres] = await Promise.all([redisAvailable("multi-process (Redis)"), postgresAvailable("multi-process (PostgreSQL)")]);

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function fileStore(): Promise<SharedStore> {
  const directory = await mkdtemp(nodePath.join(tmpdir(), "multi-process-"));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  const path = nodePath.join(directory, "tokens.json");
  return { spec: { kind: "file", path }, open: async () => new FileTokenStore({ path }) };
}

async function redisStore(): Promise<SharedStore> {
  const keyPrefix = `test:multi:${uniqueSuffix()}:`;
  const redis = new Redis(REDIS_URL);
  cleanups.push(() => dropKeysAndQuit(redis, `${keyPrefix}*`));
  return { spec: { kind: "redis", url: REDIS_URL, keyPrefix }, open: async () => new RedisTokenStore({ client: redis, keyPrefix }) };
}

async function postgresStore(): Promise<SharedStore> {
  const table = `multi_${uniqueSuffix()}`.toLowerCase().slice(0, 40);
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  cleanups.push(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_leases"`);
    await pool.end();
  });
  return {
    spec: { kind: "postgres", url: DATABASE_URL, table },
    open: async () => {
      const store = new PostgresTokenStore({ pool, table });
      await store.migrate();
      return store;
    },
  };
}

function runFleet(store: SharedStore, refreshWindowMs: number | undefined): Promise<FleetFigures> {
  return runFleetWith(store, {
    workers: WORKERS,
    writesPerWorker: WRITES_PER_WORKER,
    gapMs: GAP_MS,
    accessTokenSeconds: ACCESS_TOKEN_SECONDS,
    refreshWindowMs,
    sdkPath: realSdkC?.source.replace(/^DIGIME_SDK_PATH /, ""),
  });
}

function expectNothingLostNorRefused(figures: FleetFigures): void {
  expect(figures.failed).toEqual([]);
  expect(figures.delivered).toBe(WORKERS * WRITES_PER_WORKER);
  expect(figures.files).toBe(WORKERS * WRITES_PER_WORKER);
  expect(figures.reauthorizationEvents).toBe(0);
  expect(figures.refusedRefreshes).toBe(0);
  // Refreshes follow the tokens' lives, not the writes (400) nor the workers (4 per life).
  expect(figures.refreshes).toBeGreaterThanOrEqual(2);
  expect(figures.refreshes).toBeLessThanOrEqual(Math.ceil(figures.tokenLives * 2) + 1);
}

const sdkName = realSdkC === undefined ? "createHttpSdk" : `the real SDK ${realSdkC.version}`;

describe(`${WORKERS} worker processes (${sdkName}) writing for one user through ${ACCESS_TOKEN_SECONDS}-second tokens, one shared store`, () => {
  it("FileTokenStore: every write delivered, no re-consent, no spent refresh token presented", async () => {
    const figures = await runFleet(await fileStore(), 2_000);
    console.log(`multi-process file (refreshWindowMs 2000): ${JSON.stringify({ ...figures, reports: undefined })}`);
    expectNothingLostNorRefused(figures);
  }, 90_000);

  it("FileTokenStore with the default refreshWindowMs (longer than the tokens live): the same", async () => {
    const figures = await runFleet(await fileStore(), undefined);
    console.log(`multi-process file (default refreshWindowMs): ${JSON.stringify({ ...figures, reports: undefined })}`);
    expectNothingLostNorRefused(figures);
  }, 90_000);

  it.skipIf(!hasRedis)("RedisTokenStore: the same", async () => {
    const figures = await runFleet(await redisStore(), undefined);
    console.log(`multi-process redis (default refreshWindowMs): ${JSON.stringify({ ...figures, reports: undefined })}`);
    expectNothingLostNorRefused(figures);
  }, 90_000);

  it.skipIf(!hasPostgres)("PostgresTokenStore: the same", async () => {
    const figures = await runFleet(await postgresStore(), undefined);
    console.log(`multi-process postgres (default refreshWindowMs): ${JSON.stringify({ ...figures, reports: undefined })}`);
    expectNothingLostNorRefused(figures);
  }, 90_000);
});
