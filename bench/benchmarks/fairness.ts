/**
 * 7. Fairness: one user's burst of 10,000 writes arrives first, then 2,000
 * users with 5 writes each (2 ms SDK latency, concurrency 16). Completion
 * time of each write is measured from the moment it was submitted. The same
 * small users' writes also run alone, without the big burst ahead of them:
 * how much the burst holds them back is their p95 with the burst over their
 * p95 alone.
 */
import { performance } from "node:perf_hooks";
import type { Benchmark, Row } from "../lib/report.js";
import { collect, median, spread } from "../lib/stats.js";
import { createWorld, SMALL_FILE } from "../lib/world.js";

const CONCURRENCY = 16;
const LATENCY_MS = 2;

type Arm = "client" | "baseline";

interface FairnessRun {
  small: number[];
  big: number[];
}

async function fairnessRun(arm: Arm, smallUsers: number, perSmall: number, bigWrites: number): Promise<FairnessRun> {
  const world = await createWorld({ users: smallUsers + 1, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  const big = world.users[smallUsers]!;
  const baseline = world.baseline();
  const write = arm === "client" ? (user: string) => world.client.write(user, SMALL_FILE) : (user: string) => baseline.write(user);
  const small: number[] = [];
  const bigTimes: number[] = [];
  const all: Array<Promise<unknown>> = [];
  await collect();
  const track = (user: string, into: number[]) => {
    const submitted = performance.now();
    all.push(write(user).then(() => into.push(performance.now() - submitted)));
  };
  for (let i = 0; i < bigWrites; i += 1) track(big, bigTimes);
  for (let round = 0; round < perSmall; round += 1) {
    for (let u = 0; u < smallUsers; u += 1) track(world.users[u]!, small);
  }
  await Promise.all(all);
  await world.client.close();
  return { small, big: bigTimes };
}

export const fairness: Benchmark = {
  name: "fairness",
  async run({ quick }) {
    const smallUsers = quick ? 200 : 2_000;
    const perSmall = 5;
    const bigWrites = quick ? 1_000 : 10_000;
    await fairnessRun("client", 100, 5, 200);
    await fairnessRun("baseline", 100, 5, 200);
    // Three rounds of all four runs (the arms' order flips each round); every percentile is the median
    // of the rounds' values: one run of each moved 7g by ±0.05 between full runs.
    const rounds = quick ? 1 : 3;
    const runs = { client: [] as FairnessRun[], baseline: [] as FairnessRun[], clientAlone: [] as FairnessRun[], baselineAlone: [] as FairnessRun[] };
    for (let r = 0; r < rounds; r += 1) {
      const order: Arm[] = r % 2 === 0 ? ["client", "baseline"] : ["baseline", "client"];
      for (const arm of order) runs[arm].push(await fairnessRun(arm, smallUsers, perSmall, bigWrites));
      for (const arm of order) runs[arm === "client" ? "clientAlone" : "baselineAlone"].push(await fairnessRun(arm, smallUsers, perSmall, 0));
    }
    const medianSpread = (of: FairnessRun[], pick: (run: FairnessRun) => number[]) => {
      const each = of.map((run) => spread(pick(run)));
      return { p50: median(each.map((x) => x.p50)), p95: median(each.map((x) => x.p95)), p99: median(each.map((x) => x.p99)) };
    };
    const s = { client: medianSpread(runs.client, (r) => r.small), baseline: medianSpread(runs.baseline, (r) => r.small) };
    const b = { client: medianSpread(runs.client, (r) => r.big), baseline: medianSpread(runs.baseline, (r) => r.big) };
    const alone = { client: medianSpread(runs.clientAlone, (r) => r.small), baseline: medianSpread(runs.baselineAlone, (r) => r.small) };
    const heldBack = { client: s.client.p95 / alone.client.p95, baseline: s.baseline.p95 / alone.baseline.p95 };
    const label = `${smallUsers.toLocaleString("en-US")} users × ${perSmall} writes after one user's ${bigWrites.toLocaleString("en-US")}`;
    const rows: Row[] = [
      { id: "7a", figure: `fairness: ${label} — small users' completion p50`, unit: "ms", client: s.client.p50, baseline: s.baseline.p50, ratio: s.client.p50 / s.baseline.p50 },
      { id: "7b", figure: "fairness — small users' completion p95", unit: "ms", client: s.client.p95, baseline: s.baseline.p95, ratio: s.client.p95 / s.baseline.p95 },
      { id: "7c", figure: "fairness — small users' completion p99", unit: "ms", client: s.client.p99, baseline: s.baseline.p99, ratio: s.client.p99 / s.baseline.p99 },
      { id: "7d", figure: "fairness — big user's completion p50", unit: "ms", client: b.client.p50, baseline: b.baseline.p50, ratio: b.client.p50 / b.baseline.p50 },
      { id: "7e", figure: "fairness — big user's completion p95", unit: "ms", client: b.client.p95, baseline: b.baseline.p95, ratio: b.client.p95 / b.baseline.p95 },
      { id: "7f", figure: "fairness — big user's completion p99", unit: "ms", client: b.client.p99, baseline: b.baseline.p99, ratio: b.client.p99 / b.baseline.p99 },
      {
        id: "7g",
        figure: `fairness — small users' p95 with the burst over their p95 alone (alone: ${alone.client.p95.toFixed(0)} / ${alone.baseline.p95.toFixed(0)} ms)`,
        unit: "×",
        client: heldBack.client,
        baseline: heldBack.baseline,
        goal: "≤ 1.2 (not held back)",
        met: heldBack.client <= 1.2,
      },
    ];
    return {
      rows,
      details: { smallUsers, perSmall, bigWrites, rounds, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, small: s, big: b, smallAlone: alone },
    };
  },
};
