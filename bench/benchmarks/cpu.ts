/**
 * 2. CPU time per write: process.cpuUsage (user + system, every thread of
 * the process; 2e: the main thread's alone) over writes of 100 users,
 * concurrency 16, fed with at most 1,000 outstanding (a service with
 * backpressure), a new payload per write;
 * at 0 ms SDK latency (100,000 writes) and at 2 ms (20,000 writes), where
 * every write waits and pays for its promises and timers. 2f repeats 2b with
 * a token store that answers with a promise, as a store of the app's own
 * does (the client reads a `MemoryTokenStore` at once). Baseline: a bare
 * p-queue of 16 around the same SDK fake. Rounds run in pairs, alternating
 * which arm goes first; the figures above the baseline (2b, 2d, 2e) are the
 * median of the pairs' differences (the difference of the medians is kept in
 * the details beside it).
 */
import type { TokenStore } from "../../src/index.js";
import type { Benchmark } from "../lib/report.js";
import { collect, median, medianPairDifference } from "../lib/stats.js";
import { alternateRounds, column, cpuPerWrite, createWorld, storeOfYourOwn, submitter, warmUp, type Arm, type CpuPerWrite } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const WINDOW = 1_000;

async function round(arm: Arm, writes: number, latencyMs: number, store?: TokenStore): Promise<CpuPerWrite> {
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs, ...(store === undefined ? {} : { store }) });
  const submit = submitter(world, arm);
  await collect();
  try {
    return await cpuPerWrite(`cpu (${arm})`, writes, WINDOW, submit);
  } finally {
    await world.client.close();
  }
}

export const cpu: Benchmark = {
  name: "cpu",
  async run({ quick }) {
    // More pairs at 2 ms: a round there costs each arm as much in timer wake-ups as in writes, and varies more.
    const roundCounts = { 0: quick ? 3 : 5, 2: quick ? 3 : 9 };
    const rows = [];
    const details: Record<string, unknown> = { users: USERS, concurrency: CONCURRENCY, window: WINDOW };
    for (const [latencyMs, full, ids] of [
      [0, 100_000, ["2a", "2b"]],
      [2, 20_000, ["2c", "2d"]],
    ] as const) {
      const writes = quick ? full / 10 : full;
      await warmUp((arm) => round(arm, writes, latencyMs));
      const rounds = await alternateRounds(roundCounts[latencyMs], (arm) => round(arm, writes, latencyMs));
      const perArm = column(rounds, "process");
      const mainThread = column(rounds, "mainThread");
      const client = median(perArm.client);
      const baseline = median(perArm.baseline);
      const above = medianPairDifference(perArm.client, perArm.baseline);
      const mainAbove = medianPairDifference(mainThread.client, mainThread.baseline);
      const goal = latencyMs === 0 ? 15 : 5;
      rows.push(
        { id: ids[0], figure: `CPU per write, ${latencyMs} ms latency, ${writes.toLocaleString("en-US")} writes over ${USERS} users`, unit: "µs", client, baseline, ratio: client / baseline },
        { id: ids[1], figure: `CPU per write above the baseline, ${latencyMs} ms latency`, unit: "µs", client: above, baseline: null, goal: `≤ ${goal} µs`, met: above <= goal },
      );
      // Beside 2d, not instead of it: the main thread's share, without V8's GC and compiler threads.
      if (latencyMs > 0) rows.push({ id: "2e", figure: `the same, main thread only (process.threadCpuUsage), ${latencyMs} ms latency`, unit: "µs", client: mainAbove, baseline: null });
      details[`${latencyMs}ms`] = { writes, microsecondsPerWrite: perArm, mainThreadMicrosecondsPerWrite: mainThread, differenceOfMedians: client - baseline };
    }
    // 2f: the same as 2b with a store that answers with a promise (see storeOfYourOwn); no goal, the cost of that read made visible.
    {
      const writes = quick ? 10_000 : 100_000;
      await warmUp((arm) => round(arm, writes, 0, storeOfYourOwn()));
      const rounds = await alternateRounds(roundCounts[0], (arm) => round(arm, writes, 0, storeOfYourOwn()));
      const perArm = column(rounds, "process");
      const above = medianPairDifference(perArm.client, perArm.baseline);
      rows.push({ id: "2f", figure: "as 2b, the token store answering with a promise (a MemoryTokenStore behind a store of your own)", unit: "µs", client: above, baseline: null });
      details["0msAsyncStore"] = { writes, microsecondsPerWrite: perArm };
    }
    return { rows, details };
  },
};
