/**
 * One of the worker processes of test/reliability/multi-process.test.ts: its own
 * WriteClient, the shared token store (file, Redis or PostgreSQL), and an SDK
 * that talks HTTP to the sandbox the parent serves (the real SDK of
 * generation C when `sdkPath` names a build, else `createHttpSdk`). It writes
 * `count` files for one user, `gapMs` apart, and prints one JSON line.
 */
import { createRequire } from "node:module";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { FileTokenStore, type DigimeSdk, type TokenStore } from "../../src/index.js";
import { PostgresTokenStore } from "../../src/postgres.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk } from "../../src/testing/index.js";
import { testClient } from "./test-client.js";
import { withoutLeases } from "./without-leases.js";

export interface WorkerConfig {
  name: string;
  applicationId: string;
  baseUrl: string;
  onboardUrl: string;
  contractDetails: { contractId: string; privateKey: string };
  store: { kind: "file"; path: string } | { kind: "redis"; url: string; keyPrefix: string } | { kind: "postgres"; url: string; table: string };
  userId: string;
  count: number;
  gapMs: number;
  /** Unset: the library's default. */
  refreshWindowMs?: number;
  /** A built real SDK (generation C) to use instead of createHttpSdk. */
  sdkPath?: string;
  /** `false`: hide the store's refresh leases, so this process refreshes on its own. */
  leases?: boolean;
  /** Passed to the WriteClient. */
  refreshCoordination?: { leaseMs?: number; holderWaitMs?: number; newerTokenWaitMs?: number };
}

export interface WorkerReport {
  name: string;
  delivered: number;
  failed: string[];
  reauthorizationEvents: number;
  refreshedHere: number;
  /** Epoch ms of each delivery. */
  deliveredAt: number[];
  /** Epoch ms at which each write settled (delivered or failed). */
  settledAt: number[];
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const closers: Array<() => Promise<unknown>> = [];

function openStore(): TokenStore {
  const store = openSharedStore();
  return config.leases === false ? withoutLeases(store) : store;
}

function openSharedStore(): TokenStore {
  const spec = config.store;
  if (spec.kind === "file") return new FileTokenStore({ path: spec.path });
  if (spec.kind === "redis") {
    const redis = new Redis(spec.url);
    closers.push(() => redis.quit());
    return new RedisTokenStore({ client: redis, keyPrefix: spec.keyPrefix });
  }
  const pool = new pg.Pool({ connectionString: spec.url, max: 4 });
  closers.push(() => pool.end());
  return new PostgresTokenStore({ pool, table: spec.table });
}

function openSdk(): DigimeSdk {
  const endpoints = { applicationId: config.applicationId, baseUrl: config.baseUrl, onboardUrl: config.onboardUrl };
  if (config.sdkPath === undefined) return announceRefreshes(createHttpSdk(endpoints));
  const { init } = createRequire(import.meta.url)(config.sdkPath) as { init: (c: typeof endpoints) => DigimeSdk };
  return announceRefreshes(init(endpoints));
}

/** Print a line as this process starts a refresh, so a test can kill the process that holds the lease mid-refresh. */
function announceRefreshes(sdk: DigimeSdk): DigimeSdk {
  const refreshToken = (sdk as { refreshToken?: (...args: unknown[]) => Promise<unknown> }).refreshToken;
  if (typeof refreshToken !== "function") return sdk;
  return Object.assign(Object.create(sdk) as DigimeSdk, {
    refreshToken: (...args: unknown[]) => {
      console.log(JSON.stringify({ refreshing: config.name }));
      return refreshToken.apply(sdk, args);
    },
  });
}

const client = testClient({
  sdk: openSdk(),
  contractDetails: config.contractDetails,
  tokenStore: openStore(),
  retry: { minDelayMs: 20, maxDelayMs: 200 },
  ...(config.refreshCoordination === undefined ? {} : { refreshCoordination: config.refreshCoordination }),
  ...(config.refreshWindowMs === undefined ? {} : { refreshWindowMs: config.refreshWindowMs }),
});
const report: WorkerReport = { name: config.name, delivered: 0, failed: [], reauthorizationEvents: 0, refreshedHere: 0, deliveredAt: [], settledAt: [] };
client.on("reauthorization:required", () => void (report.reauthorizationEvents += 1));
client.on("token:refreshed", () => void (report.refreshedHere += 1));

const writes: Array<Promise<void>> = [];
for (let i = 0; i < config.count; i += 1) {
  const fileData = Buffer.from(`${config.name}-${i}`);
  writes.push(
    client
      .write(config.userId, { fileData, fileName: `${config.name}-${i}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "w" }] } })
      .then(
        () => {
          report.delivered += 1;
          report.deliveredAt.push(Date.now());
        },
        (error: unknown) => void report.failed.push(String((error as { code?: unknown }).code ?? error)),
      )
      .finally(() => void report.settledAt.push(Date.now())),
  );
  await delay(config.gapMs);
}
await Promise.all(writes);
await client.close();
for (const close of closers) await close();
console.log(JSON.stringify(report));
