/** The Redis the benchmarks that need one use (`REDIS_URL`), and whether it answers. */
import { Redis } from "ioredis";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A connected client of `REDIS_URL`, or `undefined` (and nothing left open) when it does not answer. */
export async function reachRedis(): Promise<Redis | undefined> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return undefined;
  }
}
