/**
 * 10. Memory follows active users: one write each for N distinct users
 * (10,000 and 100,000), then the heap kept per user right after the writes
 * settle and again once the client's idle period has passed. The baseline
 * is the bare p-queue with its own token map (what an app keeps anyway);
 * both sides also keep the sandbox's record of each delivered file.
 * The store's records are made before the first heap reading, so they are
 * not counted on either side.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Benchmark, Row } from "../lib/report.js";
import { collect } from "../lib/stats.js";
import { createWorld, drive, submitter } from "../lib/world.js";

const IDLE_MS = 200;

async function measure(users: number): Promise<{ settled: number; idle: number; baseline: number }> {
  const world = await createWorld({ users: 100, distinctUsers: users, concurrency: 16, client: { idleUserMs: IDLE_MS } });
  const client = submitter(world, "client");
  await collect();
  const before = process.memoryUsage().heapUsed;
  if ((await drive(users, 1_000, (i) => client(i))) !== 0) throw new Error("idle-memory: a write failed");
  await collect();
  const settled = (process.memoryUsage().heapUsed - before) / users;
  // The idle period, then a sweep (it runs every IDLE_MS / 2).
  await delay(IDLE_MS * 2);
  await collect();
  const idle = (process.memoryUsage().heapUsed - before) / users;
  if (world.client.usersInMemory !== 0) throw new Error(`idle-memory: ${world.client.usersInMemory} users still held after the idle period`);
  await world.client.close();

  const baselineWorld = await createWorld({ users: 100, distinctUsers: users, concurrency: 16 });
  const baselineSubmit = submitter(baselineWorld, "baseline");
  await collect();
  const baseBefore = process.memoryUsage().heapUsed;
  if ((await drive(users, 1_000, (i) => baselineSubmit(i))) !== 0) throw new Error("idle-memory: a baseline write failed");
  await collect();
  const baseline = (process.memoryUsage().heapUsed - baseBefore) / users;
  await baselineWorld.client.close();
  return { settled, idle, baseline };
}

export const idleMemory: Benchmark = {
  name: "idle-memory",
  async run({ quick }) {
    const sizes = quick ? [10_000] : [10_000, 100_000];
    const rows: Row[] = [];
    const details: Record<string, unknown> = {};
    for (const [index, users] of sizes.entries()) {
      const m = await measure(users);
      details[String(users)] = m;
      const letter = String.fromCharCode(97 + index * 2);
      const label = `${users.toLocaleString("en-US")} distinct users, one write each`;
      rows.push(
        { id: `10${letter}`, figure: `heap kept per user: ${label}, right after the writes settle`, unit: "B", client: m.settled, baseline: m.baseline },
        {
          id: `10${String.fromCharCode(98 + index * 2)}`,
          figure: `heap kept per user: ${label}, after the idle period (${IDLE_MS} ms)`,
          unit: "B",
          client: m.idle,
          baseline: m.baseline,
          // Both sides keep what the sandbox records per delivered file; what the client keeps beyond that is its own.
          goal: "≤ baseline + 32 B",
          met: m.idle - m.baseline <= 32,
        },
      );
    }
    return { rows, details };
  },
};
