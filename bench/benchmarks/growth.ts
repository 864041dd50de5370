/**
 * 6. Growth: wall time per write for runs of 1,000, 10,000 and 100,000
 * writes (zero latency, 100 users, concurrency 16), each run on a fresh
 * client and sandbox (after one write per user, so per-user setup is not
 * counted), fed with at most 1,000 writes outstanding. A pipeline
 * that keeps something per write, or scans a growing list, gets slower per
 * write as runs get longer; the figure is the largest size's per-write time
 * over the smallest's.
 */
import { performance } from "node:perf_hooks";
import type { Benchmark, Row } from "../lib/report.js";
import { collect, median } from "../lib/stats.js";
import { alternateRounds, createWorld, drive, submitter, type Arm } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const WINDOW = 1_000;

async function perWrite(arm: Arm, writes: number): Promise<number> {
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY });
  const submit = submitter(world, arm);
  // One write per user first: what a user's first write sets up once is not what grows with a run.
  await Promise.all(world.users.map((_, i) => submit(i)));
  await collect();
  const started = performance.now();
  const failed = await drive(writes, WINDOW, submit);
  const micros = ((performance.now() - started) * 1000) / writes;
  await world.client.close();
  if (failed !== 0) throw new Error(`growth (${arm}): ${failed} of ${writes} writes failed`);
  return micros;
}

export const growth: Benchmark = {
  name: "growth",
  async run({ quick }) {
    const sizes = quick ? [1_000, 10_000, 30_000] : [1_000, 10_000, 100_000];
    const repeats = (size: number) => (size <= 1_000 ? 15 : size <= 10_000 ? 5 : 3);
    await perWrite("client", 10_000);
    await perWrite("baseline", 10_000);
    const perSize: Record<string, Record<Arm, number[]>> = {};
    for (const size of sizes) {
      perSize[size] = await alternateRounds(quick ? Math.min(3, repeats(size)) : repeats(size), (arm) => perWrite(arm, size));
    }
    const figure = (size: number, arm: Arm) => median(perSize[size]![arm]);
    const smallest = sizes[0]!;
    const largest = sizes[sizes.length - 1]!;
    const rows: Row[] = sizes.map((size, i) => ({
      id: `6${"abc"[i]}`,
      figure: `growth: wall time per write, run of ${size.toLocaleString("en-US")} writes (0 ms latency)`,
      unit: "µs",
      client: figure(size, "client"),
      baseline: figure(size, "baseline"),
      ratio: figure(size, "client") / figure(size, "baseline"),
    }));
    const clientGrowth = figure(largest, "client") / figure(smallest, "client");
    const baselineGrowth = figure(largest, "baseline") / figure(smallest, "baseline");
    rows.push({
      id: "6d",
      figure: `growth: per-write time at ${largest.toLocaleString("en-US")} over ${smallest.toLocaleString("en-US")} writes`,
      unit: "×",
      client: clientGrowth,
      baseline: baselineGrowth,
      goal: "≤ 1.2",
      met: clientGrowth <= 1.2,
    });
    return { rows, details: { users: USERS, concurrency: CONCURRENCY, window: WINDOW, microsecondsPerWrite: perSize } };
  },
};
