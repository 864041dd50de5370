/**
 * 3. Refresh storm: 1,000 writes for one user queued at once, the access
 * token just expired, strict single-use refresh tokens (the sandbox's rule),
 * 2 ms latency on every write and refresh. Counts the refreshes digi.me
 * performed and the writes that failed.
 */
import { performance } from "node:perf_hooks";
import type { Benchmark } from "../lib/report.js";
import { burst, createWorld, SMALL_FILE } from "../lib/world.js";

const CONCURRENCY = 16;
const LATENCY_MS = 2;
const ACCESS_SECONDS = 3600;

type Arm = "client" | "baseline";

interface StormResult {
  refreshes: number;
  failedRefreshes: number;
  failedWrites: number;
  delivered: number;
  seconds: number;
}

async function storm(arm: Arm, writes: number): Promise<StormResult> {
  const world = await createWorld({ users: 1, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, sandbox: { accessTokenLifetimeSeconds: ACCESS_SECONDS } });
  world.sandbox.faults.add({ operation: "refresh", latencyMs: LATENCY_MS });
  const user = world.users[0]!;
  const baseline = world.baseline();
  // The access token expires: one second past its lifetime, on the clock the sandbox and the client share.
  world.advanceClock((ACCESS_SECONDS + 1) * 1000);
  world.sandbox.resetCounters();
  const submit = arm === "client" ? () => world.client.write(user, SMALL_FILE) : () => baseline.write(user);
  const started = performance.now();
  const failedWrites = await burst(writes, submit);
  const seconds = (performance.now() - started) / 1000;
  await world.client.close();
  const { refreshes, failedRefreshes, deliveries } = world.sandbox.counters;
  return { refreshes, failedRefreshes, failedWrites, delivered: deliveries, seconds };
}

export const refreshStorm: Benchmark = {
  name: "storm",
  async run({ quick }) {
    const writes = quick ? 200 : 1_000;
    const client = await storm("client", writes);
    const baseline = await storm("baseline", writes);
    const met = client.refreshes === 1 && client.failedWrites === 0 && client.delivered === writes;
    return {
      rows: [
        { id: "3a", figure: `refresh storm: ${writes.toLocaleString("en-US")} writes of one user, token just expired — refreshes`, unit: "count", client: client.refreshes, baseline: baseline.refreshes, goal: "exactly 1", met: client.refreshes === 1 },
        { id: "3b", figure: "refresh storm — refresh attempts refused (refresh token already used)", unit: "count", client: client.failedRefreshes, baseline: baseline.failedRefreshes },
        { id: "3c", figure: "refresh storm — failed writes", unit: "count", client: client.failedWrites, baseline: baseline.failedWrites, goal: "0", met: client.failedWrites === 0 && met },
        { id: "3d", figure: "refresh storm — time to settle all writes (the refresh first, then four of the user's writes at a time)", unit: "s", client: client.seconds, baseline: baseline.seconds, ratio: client.seconds / baseline.seconds },
      ],
      details: { writes, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, client, baseline },
    };
  },
};
