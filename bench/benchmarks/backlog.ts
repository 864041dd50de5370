/**
 * 8. One user's backlog (a history import): 10,000 writes of one user, 2 ms
 * SDK latency. The client runs them at its default per-user concurrency; the
 * baseline is a bare p-queue of that same concurrency around the SDK.
 */
import { PROACTIVE_PER_USER_CONCURRENCY } from "../../src/scheduling/lane-scheduler.js";
import type { Benchmark } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { alternateRounds, rateRound, type Arm } from "../lib/world.js";

const LATENCY_MS = 2;
const PER_USER = PROACTIVE_PER_USER_CONCURRENCY;

function round(arm: Arm, writes: number): Promise<number> {
  // Global concurrency 16 for the client: the per-user limit is what binds, as in an app with several users.
  return rateRound("backlog", { users: 1, concurrency: arm === "client" ? 16 : PER_USER, latencyMs: LATENCY_MS }, arm, writes, { freshPayload: true });
}

export const backlog: Benchmark = {
  name: "backlog",
  async run({ quick }) {
    const writes = quick ? 2_000 : 10_000;
    const rounds = quick ? 3 : 5;
    await round("client", 500);
    await round("baseline", 500);
    const perArm = await alternateRounds(rounds, (arm) => round(arm, writes));
    const client = median(perArm.client);
    const baseline = median(perArm.baseline);
    const ratio = client / baseline;
    return {
      rows: [
        {
          id: "8",
          figure: `one user's backlog: ${writes.toLocaleString("en-US")} writes, ${LATENCY_MS} ms latency, ${PER_USER} at a time (default perUserConcurrency)`,
          unit: "writes/s",
          client,
          baseline,
          ratio,
          goal: "ratio ≥ 0.9",
          met: ratio >= 0.9,
        },
      ],
      details: { writes, latencyMs: LATENCY_MS, perUserConcurrency: PER_USER, rounds: perArm },
    };
  },
};
