/**
 * 10. Memory follows active users: one write each for N distinct users
 * (10,000 and 100,000), then the heap kept per user right after the writes
 * settle and again once the client's idle period has passed. The baseline
 * is the bare p-queue with its own token map (what an app keeps anyway);
 * both sides also keep the sandbox's record of each delivered file.
 * The store's records are made before the first heap reading, so they are
 * not counted on either side. A full run uses the client's default
 * `idleUserMs` (60 s: it waits 90 s per size for the sweep); `--quick` uses
 * 200 ms. The arms alternate which runs first from one size to the next.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Benchmark, Row } from "../lib/report.js";
import { collect } from "../lib/stats.js";
import { createWorld, drive, submitter } from "../lib/world.js";

/** The client's default `idleUserMs`. */
const DEFAULT_IDLE_MS = 60_000;
const QUICK_IDLE_MS = 200;

async function measureClient(users: number, idleMs: number): Promise<{ settled: number; idle: number }> {
  const world = await createWorld({ users: 100, distinctUsers: users, concurrency: 16, ...(idleMs === DEFAULT_IDLE_MS ? {} : { client: { idleUserMs: idleMs } }) });
  const client = submitter(world, "client");
  await collect();
  const before = process.memoryUsage().heapUsed;
  if ((await drive(users, 1_000, (i) => client(i))) !== 0) throw new Error("idle-memory: a write failed");
  await collect();
  const settled = (process.memoryUsage().heapUsed - before) / users;
  // The idle period, then a sweep (it runs every idleMs / 2).
  await delay(idleMs * 1.6);
  await collect();
  const idle = (process.memoryUsage().heapUsed - before) / users;
  if (world.client.usersInMemory !== 0) throw new Error(`idle-memory: ${world.client.usersInMemory} users still held after the idle period`);
  await world.client.close();
  return { settled, idle };
}

async function measureBaseline(users: number): Promise<number> {
  const baselineWorld = await createWorld({ users: 100, distinctUsers: users, concurrency: 16 });
  const baselineSubmit = submitter(baselineWorld, "baseline");
  await collect();
  const baseBefore = process.memoryUsage().heapUsed;
  if ((await drive(users, 1_000, (i) => baselineSubmit(i))) !== 0) throw new Error("idle-memory: a baseline write failed");
  await collect();
  const baseline = (process.memoryUsage().heapUsed - baseBefore) / users;
  await baselineWorld.client.close();
  return baseline;
}

/** Both arms for one size; `baselineFirst` alternates the order between sizes. */
async function measure(users: number, idleMs: number, baselineFirst: boolean): Promise<{ settled: number; idle: number; baseline: number }> {
  if (baselineFirst) {
    const baseline = await measureBaseline(users);
    return { ...(await measureClient(users, idleMs)), baseline };
  }
  const client = await measureClient(users, idleMs);
  return { ...client, baseline: await measureBaseline(users) };
}

export const idleMemory: Benchmark = {
  name: "idle-memory",
  async run({ quick }) {
    const sizes = quick ? [5_000, 20_000] : [10_000, 100_000];
    const rows: Row[] = [];
    const measured: Array<{ users: number; settled: number; idle: number; baseline: number }> = [];
    const idleMs = quick ? QUICK_IDLE_MS : DEFAULT_IDLE_MS;
    for (const [index, users] of sizes.entries()) {
      const m = { users, ...(await measure(users, idleMs, index % 2 === 1)) };
      measured.push(m);
      const label = `${users.toLocaleString("en-US")} distinct users, one write each`;
      rows.push(
        { id: `10${String.fromCharCode(97 + index * 2)}`, figure: `heap kept per user: ${label}, right after the writes settle`, unit: "B", client: m.settled, baseline: m.baseline },
        { id: `10${String.fromCharCode(98 + index * 2)}`, figure: `heap kept per user: ${label}, after the idle period (idleUserMs ${idleMs.toLocaleString("en-US")} ms${quick ? "" : ", the default"})`, unit: "B", client: m.idle, baseline: m.baseline },
      );
    }
    // Per user, what grows with the number of users: the slope between the two sizes, so a fixed
    // cost (code, timers) is not spread over the users. Both sides keep the sandbox's record of each
    // delivered file; what the client keeps beyond the baseline is its own.
    const [small, big] = measured as [(typeof measured)[0], (typeof measured)[0]];
    const slope = (kept: (m: typeof small) => number): number => (kept(big) * big.users - kept(small) * small.users) / (big.users - small.users);
    const client = slope((m) => m.idle);
    const baseline = slope((m) => m.baseline);
    rows.push({
      id: `10${String.fromCharCode(97 + sizes.length * 2)}`,
      figure: `heap kept per additional idle user (from ${small.users.toLocaleString("en-US")} to ${big.users.toLocaleString("en-US")} users)`,
      unit: "B",
      client,
      baseline,
      goal: "≤ baseline + 32 B",
      met: client - baseline <= 32,
    });
    return { rows, details: { measured, idleMs } };
  },
};
