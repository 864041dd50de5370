/**
 * 2. CPU time per write with zero SDK latency: process.cpuUsage (user +
 * system, every thread of the process) over 100,000 writes of 100 users,
 * concurrency 16, fed with at most 1,000 outstanding (a service with
 * backpressure). Rounds alternate client and baseline; the figure is the
 * difference of the medians.
 */
import type { Benchmark } from "../lib/report.js";
import { collect, median } from "../lib/stats.js";
import { alternateRounds, createWorld, drive, submitter, type Arm } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const WINDOW = 1_000;

async function round(arm: Arm, writes: number): Promise<number> {
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY });
  const submit = submitter(world, arm);
  await collect();
  const before = process.cpuUsage();
  const failed = await drive(writes, WINDOW, submit);
  const used = process.cpuUsage(before);
  await world.client.close();
  if (failed !== 0) throw new Error(`cpu (${arm}): ${failed} of ${writes} writes failed`);
  return (used.user + used.system) / writes;
}

export const cpu: Benchmark = {
  name: "cpu",
  async run({ quick }) {
    const writes = quick ? 10_000 : 100_000;
    const rounds = quick ? 3 : 5;
    await round("client", 10_000);
    await round("baseline", 10_000);
    const perArm = await alternateRounds(rounds, (arm) => round(arm, writes));
    const client = median(perArm.client);
    const baseline = median(perArm.baseline);
    const above = client - baseline;
    return {
      rows: [
        { id: "2a", figure: `CPU per write, 0 ms latency, ${writes.toLocaleString("en-US")} writes over ${USERS} users`, unit: "µs", client, baseline, ratio: client / baseline },
        { id: "2b", figure: "CPU per write above the baseline", unit: "µs", client: above, baseline: null, goal: "≤ 15 µs", met: above <= 15 },
      ],
      details: { writes, users: USERS, concurrency: CONCURRENCY, window: WINDOW, microsecondsPerWrite: perArm },
    };
  },
};
