/**
 * 1. Throughput with 2 ms simulated SDK latency: 100 users × 100 writes (issue
 * 21's workload), concurrency 16, all submitted at once. Rounds alternate
 * client and baseline; the figure is the median of each side.
 *
 * 1n. The same pairs run again with the baseline on both sides: how far a
 * round of the very same code falls from the round next to it on this
 * machine, the noise that figure 1's "no round below" goal is judged within.
 * Its goal column says whether the baseline against itself would have met
 * figure 1's goal in the same run (for reference; never a missed goal).
 * `--repeat N` counts both over N runs.
 */
import type { Benchmark } from "../lib/report.js";
import { median, pairRatios, throughputGoal } from "../lib/stats.js";
import { alternateRounds, rateRound, warmUp, type Arm } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
/** Writes per user in a round: 10,000 in all (a quick run: 50 each). */
const WRITES_PER_USER = 100;
const LATENCY_MS = 2;

function round(arm: Arm, writes: number): Promise<number> {
  return rateRound("throughput", { users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS }, arm, writes);
}

export const throughput: Benchmark = {
  name: "throughput",
  async run({ quick }) {
    const writes = USERS * (quick ? WRITES_PER_USER / 2 : WRITES_PER_USER);
    const rounds = quick ? 3 : 9;
    await warmUp((arm) => round(arm, writes));
    const perArm = await alternateRounds(rounds, (arm) => round(arm, writes));
    const figure = throughputGoal(perArm.client, perArm.baseline);
    // After the A/B pairs, in the same way: "client" here is a second baseline round.
    const itself = await alternateRounds(rounds, () => round("baseline", writes));
    const noise = throughputGoal(itself.client, itself.baseline);
    return {
      rows: [
        {
          id: "1",
          figure: `throughput, ${LATENCY_MS} ms SDK latency, concurrency ${CONCURRENCY}, ${USERS} users × ${(writes / USERS).toLocaleString("en-US")} writes`,
          unit: "writes/s",
          client: median(perArm.client),
          baseline: median(perArm.baseline),
          ratio: figure.ratio,
          goal: `issue 21: ratio ≥ 0.98, no round < 0.95 (lowest ${figure.lowest.toFixed(2)})`,
          met: figure.met,
        },
        {
          id: "1n",
          figure: `noise: the baseline against itself, ${rounds} more pairs run as figure 1's — the lowest pair (the median pair in the ratio column)`,
          unit: "×",
          client: noise.lowest,
          baseline: null,
          ratio: median(pairRatios(itself.client, itself.baseline)),
          // Whether bare p-queue, against itself, would have met figure 1's goal in this run.
          goal: `figure 1's, bare against bare (ratio ${noise.ratio.toFixed(2)})`,
          met: noise.met,
          reference: true,
        },
      ],
      details: { writes, users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, rounds: perArm, baselineAgainstItself: itself },
    };
  },
};
