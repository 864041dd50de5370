/**
 * Real servers for the suites that need one (Redis, PostgreSQL on loopback).
 * A suite asks once, before it defines its tests: without the server it is
 * skipped with one printed line saying why, except under `CI=true`, where a
 * missing server fails the run instead of quietly skipping what CI is for.
 */
import { Redis } from "ioredis";
import pg from "pg";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** `true` when Redis answers PING; otherwise skips (prints why) or, under CI, throws. */
export async function redisAvailable(suite: string): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // The socket's error (ECONNREFUSED…) says more than the "Connection is closed." connect() rejects with.
  let socketError: unknown;
  redis.on("error", (error: unknown) => (socketError ??= error));
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch (error) {
    return unavailable(suite, `Redis at ${printable(REDIS_URL)} is unreachable (${describe(socketError ?? error)})`);
  } finally {
    redis.disconnect();
  }
}

/** `true` when PostgreSQL accepts a query; otherwise skips (prints why) or, under CI, throws. */
export async function postgresAvailable(suite: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (error) {
    return unavailable(suite, `PostgreSQL at ${printable(DATABASE_URL)} is unreachable (${describe(error)})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A URL fit to print: the password (if any) replaced. */
function printable(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

function unavailable(suite: string, reason: string): false {
  if (process.env.CI === "true") throw new Error(`${suite}: ${reason}; CI=true requires it`);
  console.log(`[skipped] ${suite}: ${reason}`);
  return false;
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  return error instanceof Error ? (error.message || error.name) : String(error);
}

/** A suffix that keeps this run's keys, tables and schemas apart from other runs on the same server. */
export function uniqueSuffix(): string {
  return `${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** BullMQ's connection options for `REDIS_URL` (BullMQ requires `maxRetriesPerRequest: null`). */
export function bullmqConnection(): { host: string; port: number; maxRetriesPerRequest: null } {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

/** A suite's clean-up on the shared Redis: delete every key matching `patterns`, then quit. */
export async function dropKeysAndQuit(redis: Redis, ...patterns: string[]): Promise<void> {
  const keys = (await Promise.all(patterns.map((pattern) => redis.keys(pattern)))).flat();
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
