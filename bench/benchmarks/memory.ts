/**
 * 4. Memory: 100,000 writes sharing one small payload, queued while the SDK
 * is paused (sandbox.pause()). Heap after minus heap before (both after
 * global.gc()), divided by the writes queued. Then the sandbox resumes and
 * every write must be delivered.
 */
import type { Benchmark } from "../lib/report.js";
import { collect, median, turns } from "../lib/stats.js";
import { createWorld, SMALL_FILE } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;

type Arm = "client" | "baseline";

async function queuedHeap(arm: Arm, writes: number): Promise<number> {
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, client: { queue: { maxQueued: writes } } });
  const { users, sandbox } = world;
  const baseline = world.baseline();
  // Warm the code paths first, so compiled code is not counted as queued writes.
  for (let i = 0; i < 2_000; i += 1) await (arm === "client" ? world.client.write(users[i % USERS]!, SMALL_FILE) : baseline.write(users[i % USERS]!));
  sandbox.resetCounters();
  sandbox.pause();
  await collect();
  const before = process.memoryUsage().heapUsed;
  const pending: Array<Promise<unknown>> = new Array(writes);
  for (let i = 0; i < writes; i += 1) pending[i] = arm === "client" ? world.client.write(users[i % USERS]!, SMALL_FILE) : baseline.write(users[i % USERS]!);
  await turns(5);
  await collect();
  const after = process.memoryUsage().heapUsed;
  sandbox.resume();
  const results = await Promise.allSettled(pending);
  const failed = results.filter((r) => r.status === "rejected").length;
  await world.client.close();
  if (failed !== 0 || sandbox.counters.deliveries !== writes) throw new Error(`memory (${arm}): ${failed} failed, ${sandbox.counters.deliveries} of ${writes} delivered`);
  return (after - before) / writes;
}

export const memory: Benchmark = {
  name: "memory",
  async run({ quick }) {
    const writes = quick ? 20_000 : 100_000;
    const rounds = quick ? 1 : 3;
    const perArm: Record<Arm, number[]> = { client: [], baseline: [] };
    for (let r = 0; r < rounds; r += 1) {
      perArm.baseline.push(await queuedHeap("baseline", writes));
      perArm.client.push(await queuedHeap("client", writes));
    }
    const client = median(perArm.client);
    const baseline = median(perArm.baseline);
    return {
      rows: [
        {
          id: "4",
          figure: `heap per queued write, ${writes.toLocaleString("en-US")} writes sharing one small payload, SDK paused`,
          unit: "bytes",
          client,
          baseline,
          ratio: client / baseline,
          goal: "≤ 1,024 bytes",
          met: client <= 1024,
        },
      ],
      details: { writes, users: USERS, bytesPerQueuedWrite: perArm },
    };
  },
};
