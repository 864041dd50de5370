/**
 * 8. One user's backlog (a history import): 10,000 writes of one user, 2 ms
 * SDK latency, the client at global concurrency 16. Baseline of 8: a bare
 * p-queue of the client's default per-user concurrency (4) around the SDK.
 * Baseline of 8b: a bare p-queue of the same global concurrency (16), what a
 * naive loop gets; the client, at its defaults, lets a lone user borrow every
 * free slot (`lendIdleSlots`), so 8b is the like-for-like figure and 8 shows
 * how far past its share of 4 a lone user gets.
 */
import { PROACTIVE_PER_USER_CONCURRENCY } from "../../src/scheduling/lane-scheduler.js";
import type { Benchmark } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { alternateRounds, rateRound, type Arm } from "../lib/world.js";

const LATENCY_MS = 2;
const CONCURRENCY = 16;
const SHARE = PROACTIVE_PER_USER_CONCURRENCY;

function round(arm: Arm, writes: number, baselineConcurrency: number): Promise<number> {
  return rateRound("backlog", { users: 1, concurrency: arm === "client" ? CONCURRENCY : baselineConcurrency, latencyMs: LATENCY_MS }, arm, writes, { freshPayload: true });
}

export const backlog: Benchmark = {
  name: "backlog",
  async run({ quick }) {
    const writes = quick ? 2_000 : 10_000;
    const rounds = quick ? 3 : 5;
    await round("client", 500, CONCURRENCY);
    await round("baseline", 500, CONCURRENCY);
    const perArm = await alternateRounds(quick ? 1 : 3, (arm) => round(arm, writes, SHARE));
    const wide = await alternateRounds(rounds, (arm) => round(arm, writes, CONCURRENCY));
    const client = median(perArm.client);
    const baseline = median(perArm.baseline);
    const ratio = client / baseline;
    const wideBaseline = median(wide.baseline);
    const wideRatio = median(wide.client) / wideBaseline;
    return {
      rows: [
        {
          id: "8",
          figure: `one user's backlog: ${writes.toLocaleString("en-US")} writes, ${LATENCY_MS} ms latency (baseline: bare p-queue of ${SHARE}, the default perUserConcurrency)`,
          unit: "writes/s",
          client,
          baseline,
          ratio,
          goal: "ratio ≥ 0.9",
          met: ratio >= 0.9,
        },
        {
          id: "8b",
          figure: `the same backlog against a bare p-queue of ${CONCURRENCY}, the client's global concurrency`,
          unit: "writes/s",
          client: median(wide.client),
          baseline: wideBaseline,
          ratio: wideRatio,
          goal: "issue 21: ratio ≥ 0.9",
          met: wideRatio >= 0.9,
        },
      ],
      details: { writes, latencyMs: LATENCY_MS, concurrency: CONCURRENCY, share: SHARE, rounds: perArm, wideRounds: wide },
    };
  },
};
