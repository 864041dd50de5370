/**
 * Diagnostics, not a benchmark: what one write costs in one arm, one round.
 * CPU of the whole process and of the main thread, bytes allocated, GC, and
 * async resources created (promises, timers) per write. For finding where a
 * figure of the CPU benchmark (2c/2d) comes from; compare the arms side by side.
 *   npx tsx bench/per-write.ts client|baseline [latencyMs=2] [writes=20000] [window=1000]
 */
import { createHook } from "node:async_hooks";
import { GCProfiler } from "node:v8";
import { createWorld, drive, submitter, type Arm } from "./lib/world.js";

const arm = (process.argv[2] ?? "client") as Arm;
const latencyMs = Number(process.argv[3] ?? 2);
const writes = Number(process.argv[4] ?? 20_000);
const window = Number(process.argv[5] ?? 1_000);

const world = await createWorld({ users: 100, concurrency: 16, latencyMs });
const submit = submitter(world, arm);
await drive(2_000, window, submit); // warm up

const gc = new GCProfiler();
gc.start();
const before = process.cpuUsage();
const beforeThread = process.threadCpuUsage();
const started = performance.now();
await drive(writes, window, submit);
const used = process.cpuUsage(before);
const thread = process.threadCpuUsage(beforeThread);
const seconds = (performance.now() - started) / 1000;
const stats = gc.stop()?.statistics ?? [];
let allocated = 0;
let gcMs = 0;
let previous = stats[0]?.beforeGC.heapStatistics.usedHeapSize ?? 0;
for (const s of stats) {
  allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - previous);
  previous = s.afterGC.heapStatistics.usedHeapSize;
  gcMs += s.cost / 1000;
}

// A second, shorter pass counts async resources: the hook itself costs, so it is not timed.
const created = new Map<string, number>();
const hook = createHook({ init: (_id, type) => void created.set(type, (created.get(type) ?? 0) + 1) });
const counted = Math.min(writes, 5_000);
hook.enable();
await drive(counted, window, submit);
hook.disable();

const per = (n: number) => (n / writes).toFixed(1);
console.log(
  `${arm}, ${latencyMs} ms: CPU ${per(used.user + used.system)} µs/write (main thread ${per(thread.user + thread.system)}), ` +
    `${(writes / seconds).toFixed(0)} writes/s, ${per(allocated)} B allocated/write, GC pauses ${per(gcMs * 1000)} µs/write; ` +
    `per write: ${[...created].map(([type, n]) => `${type} ${(n / counted).toFixed(1)}`).join(", ")}`,
);
await world.client.close();
