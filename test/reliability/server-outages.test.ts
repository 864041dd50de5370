/**
 * Servers fail; the library keeps going. Worker processes built as the docs
 * show write for one user through a shared store while the store's server
 * misbehaves the way servers do in production: PostgreSQL ends the store's
 * connections (a restart, a failover, an idle-connection killer), Redis is
 * killed and comes back. Nothing crashes, nothing is lost, and a valid
 * cached token keeps writes flowing while the store is away.
 */
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresTokenStore } from "../../src/postgres.js";
import { RedisTokenStore } from "../../src/redis.js";
import { runFleet, type SharedStore } from "../support/fleet.js";
import { redisServerInstalled, startOwnRedis } from "../support/own-redis.js";
import { DATABASE_URL, postgresAvailable, uniqueSuffix } from "../support/servers.js";

const hasPostgres = await postgresAvailable("server outages (PostgreSQL)");
const hasRedisServer = redisServerInstalled();
if (!hasRedisServer) {
  if (process.env.CI === "true") throw new Error("server outages (Redis): redis-server is not installed; CI=true requires it");
  console.log("[skipped] server outages (Redis): redis-server is not installed, so no private Redis can be killed");
}

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("PostgreSQL ends the store's connections mid-run", () => {
  it.skipIf(!hasPostgres)(
    "4 processes on PostgresTokenStore built as the docs show, backends terminated 3 times: no process crashes, every write delivered",
    async () => {
      const table = `outage_${uniqueSuffix()}`.toLowerCase().slice(0, 40);
      // The application name marks this run's connections: the shared server's other clients are left alone.
      const applicationName = `digime_${table}`;
      const url = `${DATABASE_URL}${DATABASE_URL.includes("?") ? "&" : "?"}application_name=${applicationName}`;
      const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
      admin.on("error", () => undefined);
      cleanups.push(async () => {
        await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_leases"`);
        await admin.end();
      });
      const store: SharedStore = {
        spec: { kind: "postgres", url, table },
        open: async () => {
          const tokenStore = new PostgresTokenStore({ pool: admin, table });
          await tokenStore.migrate();
          return tokenStore;
        },
      };
      const terminated: number[] = [];
      const figures = await runFleet(store, {
        workers: 4,
        writesPerWorker: 80,
        gapMs: 100,
        accessTokenSeconds: 4,
        during: async (run) => {
          for (const files of [60, 140, 220]) {
            await run.filesReach(files);
            const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [applicationName]);
            terminated.push(ended.rowCount ?? 0);
          }
        },
      });
      console.log(`postgres backends terminated ${JSON.stringify(terminated)}: ${JSON.stringify({ ...figures, reports: undefined })}`);
      // Each round ended live connections of the workers' pools (else the test proves nothing).
      expect(terminated.every((n) => n > 0)).toBe(true);
      expect(figures.failed).toEqual([]);
      expect(figures.delivered).toBe(320);
      expect(figures.files).toBe(320);
      expect(figures.reauthorizationEvents).toBe(0);
      expect(figures.refusedRefreshes).toBe(0);
    },
    120_000,
  );
});

describe("Redis is killed for 6 s mid-run", () => {
  it.skipIf(!hasRedisServer)(
    "4 processes with 60-second tokens keep delivering on their cached token: no gap over 1.5 s, nothing lost, no re-consent",
    async () => {
      const redis = await startOwnRedis();
      cleanups.push(() => redis.dispose());
      const url = `redis://127.0.0.1:${redis.port}`;
      const keyPrefix = `test:outage:${uniqueSuffix()}:`;
      const parentClient = new Redis(url, { maxRetriesPerRequest: 1 });
      parentClient.on("error", () => undefined);
      cleanups.push(async () => parentClient.disconnect());
      const store: SharedStore = { spec: { kind: "redis", url, keyPrefix }, open: async () => new RedisTokenStore({ client: parentClient, keyPrefix }) };
      let outage = { from: 0, to: 0 };
      const figures = await runFleet(store, {
        workers: 4,
        writesPerWorker: 120,
        gapMs: 100,
        accessTokenSeconds: 60,
        during: async (run) => {
          await run.filesReach(100);
          await redis.kill();
          outage.from = Date.now();
          // The outage itself is what is being tested: 6 s, as the issue measures it.
          await new Promise((resolve) => setTimeout(resolve, 6_000));
          await redis.start();
          outage = { ...outage, to: Date.now() };
        },
      });
      const deliveredDuringOutage = figures.reports.flatMap((r) => r?.deliveredAt ?? []).filter((t) => t > outage.from && t < outage.to).length;
      console.log(`redis killed for ${outage.to - outage.from} ms: ${JSON.stringify({ ...figures, reports: undefined, deliveredDuringOutage })}`);
      expect(figures.failed).toEqual([]);
      expect(figures.delivered).toBe(480);
      expect(figures.files).toBe(480);
      expect(figures.reauthorizationEvents).toBe(0);
      expect(deliveredDuringOutage).toBeGreaterThan(0);
      expect(figures.longestGapMs).toBeLessThanOrEqual(1_500);
    },
    120_000,
  );
});
