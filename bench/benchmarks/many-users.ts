/**
 * 9. Many users: 10,000 distinct users × 10 writes, a new payload object per
 * write (as application code makes one), concurrency 16. Throughput at 2 ms
 * SDK latency, and CPU per write at 0 ms, each against the bare baseline.
 */
import type { Benchmark } from "../lib/report.js";
import { collect, median, throughputGoal } from "../lib/stats.js";
import { alternateRounds, cpuPerWrite, createWorld, rateRound, submitter, warmUp, type Arm } from "../lib/world.js";

const CONCURRENCY = 16;
const AUTHORIZED = 100;

function throughputRound(arm: Arm, users: number, writes: number): Promise<number> {
  return rateRound("many-users", { users: AUTHORIZED, distinctUsers: users, concurrency: CONCURRENCY, latencyMs: 2 }, arm, writes, { freshPayload: true });
}

async function cpuRound(arm: Arm, users: number, writes: number): Promise<number> {
  const world = await createWorld({ users: AUTHORIZED, distinctUsers: users, concurrency: CONCURRENCY });
  const submit = submitter(world, arm, { freshPayload: true });
  await collect();
  try {
    return (await cpuPerWrite(`many-users cpu (${arm})`, writes, 1_000, submit)).process;
  } finally {
    await world.client.close();
  }
}

export const manyUsers: Benchmark = {
  name: "many-users",
  async run({ quick }) {
    const users = quick ? 2_000 : 10_000;
    const writes = users * 10;
    // Seven pairs in a full run: a few percent of machine noise in one round must not decide 9a's goal.
    const rounds = quick ? 3 : 7;
    await warmUp((arm) => throughputRound(arm, users, writes));
    const rates = await alternateRounds(rounds, (arm) => throughputRound(arm, users, writes));
    const cpu = await alternateRounds(rounds, (arm) => cpuRound(arm, users, writes));
    const { ratio, lowest, met } = throughputGoal(rates.client, rates.baseline);
    const cpuClient = median(cpu.client);
    const cpuBaseline = median(cpu.baseline);
    const above = cpuClient - cpuBaseline;
    const label = `${users.toLocaleString("en-US")} users × 10 writes, a new payload per write`;
    return {
      rows: [
        { id: "9a", figure: `many users: ${label}, 2 ms latency`, unit: "writes/s", client: median(rates.client), baseline: median(rates.baseline), ratio, goal: `issue 21: ratio ≥ 0.98, no round < 0.95 (lowest ${lowest.toFixed(2)})`, met },
        { id: "9b", figure: `many users — CPU per write, 0 ms latency`, unit: "µs", client: cpuClient, baseline: cpuBaseline, ratio: cpuClient / cpuBaseline },
        { id: "9c", figure: "many users — CPU per write above the baseline", unit: "µs", client: above, baseline: null, goal: "≤ 10 µs", met: above <= 10 },
      ],
      details: { users, writes, concurrency: CONCURRENCY, writesPerSecond: rates, microsecondsPerWrite: cpu },
    };
  },
};
