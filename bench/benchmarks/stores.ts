/**
 * 12. A shared store's cost: 10,000 writes over 100 users, 2 ms SDK latency,
 * concurrency 16, with `RedisTokenStore` against the same run with
 * `MemoryTokenStore`, and the store calls each delivered write makes (a
 * counting wrapper around either store). Needs Redis (`REDIS_URL`, default
 * redis://127.0.0.1:6379); without one the rows say so.
 */
import { performance } from "node:perf_hooks";
import { MemoryTokenStore, type TokenStore } from "../../src/index.js";
import { RedisTokenStore } from "../../src/redis.js";
import type { Benchmark, Row } from "../lib/report.js";
import { reachRedis, REDIS_URL } from "../lib/redis.js";
import { collect, median } from "../lib/stats.js";
import { burst, createWorld, submitter } from "../lib/world.js";

const USERS = 100;

/** Counts every call into the store, leases included. */
function counting(inner: TokenStore): { store: TokenStore; calls: () => number } {
  let calls = 0;
  const count = <T>(result: Promise<T>): Promise<T> => {
    calls += 1;
    return result;
  };
  const store: TokenStore = {
    get: (key) => count(inner.get(key)),
    set: (key, credentials, options) => count(inner.set(key, credentials, options)),
    delete: (key) => count(inner.delete(key)),
    listByUser: (userId) => count(inner.listByUser(userId)),
    acquireRefreshLease: (key, options) => count(inner.acquireRefreshLease!(key, options)),
    releaseRefreshLease: (key, owner) => count(inner.releaseRefreshLease!(key, owner)),
  };
  return { store, calls: () => calls };
}

async function round(make: () => TokenStore, writes: number): Promise<{ perSecond: number; callsPerWrite: number }> {
  const { store, calls } = counting(make());
  const world = await createWorld({ users: USERS, concurrency: 16, latencyMs: 2, store });
  const submit = submitter(world, "client", { freshPayload: true });
  await collect();
  const before = calls();
  const started = performance.now();
  const failed = await burst(writes, submit);
  const seconds = (performance.now() - started) / 1000;
  const used = calls() - before;
  await world.client.close();
  if (failed !== 0) throw new Error(`stores: ${failed} of ${writes} writes failed`);
  return { perSecond: writes / seconds, callsPerWrite: used / writes };
}

export const stores: Benchmark = {
  name: "stores",
  async run({ quick }) {
    const writes = quick ? 2_000 : 10_000;
    const rounds = quick ? 2 : 5;
    const redis = await reachRedis();
    if (redis === undefined) {
      return { rows: [{ id: "12", figure: `stores: no Redis at ${REDIS_URL}, not measured`, unit: "", client: null, baseline: null }], details: {} };
    }
    const prefix = `bench:${process.pid}:${Date.now()}:`;
    let n = 0;
    try {
      const memory: Array<{ perSecond: number; callsPerWrite: number }> = [];
      const shared: Array<{ perSecond: number; callsPerWrite: number }> = [];
      for (let r = 0; r < rounds; r += 1) {
        memory.push(await round(() => new MemoryTokenStore(), writes));
        shared.push(await round(() => new RedisTokenStore({ client: redis, keyPrefix: `${prefix}${(n += 1)}:` }), writes));
      }
      const redisRate = median(shared.map((x) => x.perSecond));
      const memoryRate = median(memory.map((x) => x.perSecond));
      const rows: Row[] = [
        { id: "12a", figure: `RedisTokenStore vs MemoryTokenStore: ${writes.toLocaleString("en-US")} writes over ${USERS} users, 2 ms latency`, unit: "writes/s", client: redisRate, baseline: memoryRate, ratio: redisRate / memoryRate },
        {
          id: "12b",
          figure: "store calls per delivered write (Redis | memory), steady state: no token due",
          unit: "calls",
          client: median(shared.map((x) => x.callsPerWrite)),
          baseline: median(memory.map((x) => x.callsPerWrite)),
          goal: "≤ 1",
          met: median(shared.map((x) => x.callsPerWrite)) <= 1,
        },
      ];
      return { rows, details: { writes, memory, redis: shared } };
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  },
};
