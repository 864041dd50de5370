/**
 * Profiling the durable benchmark's worker process (D1 against D0) outside
 * the runner: one process enqueues, another drains under the profiler.
 *   BENCH_EXTRA=durable-profile.ts npx tsx bench/build-only.ts
 *   node bench/results/build/extra.mjs enqueue <queue> <writes>
 *   node bench/results/build/extra.mjs drain <worker|bare> <queue> <writes> [<warm queue> <warm writes>] [--prof file.cpuprofile]
 * The drain warms up on the warm queue first (as the bench's worker processes
 * are warm), then profiles only the measured drain (node:inspector), and
 * prints CPU per job of this process and of Redis (INFO cpu), and writes/s.
 * COMMAND_STATS=1 adds Redis's calls and µs per job by command (INFO
 * commandstats; a script's time counts to it and to each command it runs).
 * The bare arm as D0's; BARE_LIMITER=1 gives it WriteWorker's default
 * limiter, BARE_RETURN=1 has it return a receipt-sized value.
 */
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { DurableWriteQueue, WRITE_WORKER_DEFAULTS, WriteWorker } from "../src/bullmq.js";
import type { WriteJobData } from "../src/durable/job-data.js";
import { REDIS_URL } from "./lib/redis.js";
import { createWorld, SMALL_FILE } from "./lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const [mode, ...args] = process.argv.slice(2);

async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return (read("used_cpu_sys") + read("used_cpu_user")) * 1e6;
}

/** Redis's INFO commandstats: calls and µs by command (time inside scripts counts both to the script and to each command it runs). */
async function commandStats(redis: Redis): Promise<Map<string, [number, number]>> {
  const info = await redis.info("commandstats");
  const stats = new Map<string, [number, number]>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) stats.set(m[1]!, [Number(m[2]), Number(m[3])]);
  return stats;
}

if (mode === "enqueue") {
  const [queueName, n] = [args[0]!, Number(args[1])];
  const queue = new DurableWriteQueue({ connection, queueName });
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++;
        await queue.enqueue(`user-${i % USERS}`, SMALL_FILE, { id: `w${i}` });
      }
    }),
  );
  await queue.close();
} else if (mode === "drain") {
  const prof = args.indexOf("--prof");
  const profOut = prof >= 0 ? args.splice(prof, 2)[1] : undefined;
  const [arm, queueName, n, warmQueue, warmN] = [args[0]!, args[1]!, Number(args[2]), args[3], Number(args[4] ?? 0)];
  const bare = arm === "bare";
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs: 2 });
  if (bare) await world.client.close();
  const sdk = bare ? world.baseline() : undefined;
  const push = async (job: Job<WriteJobData>): Promise<void> => {
    const { userId, fileName, fileDescriptor, payload } = job.data;
    if (payload.kind !== "inline") throw new Error(`bare BullMQ: job ${job.id} has no inline payload`);
    await sdk!.write(userId, { fileData: Buffer.from(payload.base64, "base64"), fileName, fileDescriptor });
    // BARE_RETURN: return a receipt-sized value, as WriteWorker does.
    if (process.env.BARE_RETURN) return { id: job.data.id, userId, status: "delivered", attempts: 1, durationMs: 2.5, tokenRefreshed: false, possibleDuplicate: false } as unknown as void;
  };
  const start = (q: string): { close(): Promise<void> } =>
    bare ? new Worker(q, push, { connection, concurrency: WRITE_WORKER_DEFAULTS.jobsPerDeliverySlot * CONCURRENCY, ...(process.env.BARE_LIMITER ? { limiter: { ...WRITE_WORKER_DEFAULTS.limiter } } : {}) }) : new WriteWorker({ client: world.client, connection, queueName: q });
  const redis = new Redis(REDIS_URL);
  const drain = async (q: string, count: number): Promise<{ seconds: number; cpu: number; redisCpu: number }> => {
    const redisBefore = await redisCpuMicros(redis);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const worker = start(q);
    while ((await redis.zcard(`bull:${q}:completed`)) < count) await new Promise((resolve) => setTimeout(resolve, 5));
    const seconds = (performance.now() - started) / 1000;
    const redisCpu = (await redisCpuMicros(redis)) - redisBefore;
    await worker.close();
    const cpu = process.cpuUsage(cpuBefore);
    return { seconds, cpu: cpu.user + cpu.system, redisCpu };
  };
  if (warmQueue !== undefined) await drain(warmQueue, warmN);
  globalThis.gc?.();
  const session = new Session();
  if (profOut !== undefined) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
  }
  const deliveriesBefore = world.sandbox.counters.deliveries;
  const statsBefore = await commandStats(redis);
  const r = await drain(queueName, n);
  const statsAfter = await commandStats(redis);
  if (profOut !== undefined) {
    const { profile } = await session.post("Profiler.stop");
    await writeFile(profOut, JSON.stringify(profile));
    session.disconnect();
  }
  console.log(
    `${arm}: ${n} jobs, ${world.sandbox.counters.deliveries - deliveriesBefore} deliveries, ${(n / r.seconds).toFixed(0)} writes/s, ${(r.cpu / n).toFixed(0)} µs CPU per job (process), ${(r.redisCpu / n).toFixed(0)} µs (Redis)`,
  );
  if (process.env.COMMAND_STATS) {
    const rows = [...statsAfter].map(([name, [calls, usec]]) => [name, (calls - (statsBefore.get(name)?.[0] ?? 0)) / n, (usec - (statsBefore.get(name)?.[1] ?? 0)) / n] as const);
    for (const [name, calls, usec] of rows.filter((row) => row[1] > 0).sort((a, b) => b[2] - a[2])) console.log(`  ${name.padEnd(28)} ${calls.toFixed(2).padStart(6)} calls/job ${usec.toFixed(2).padStart(7)} µs/job`);
  }
  for (const q of [queueName, warmQueue]) {
    if (q === undefined) continue;
    const keys = await redis.keys(`bull:${q}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  if (!bare) await world.client.close();
} else {
  console.error("usage: enqueue <queue> <n> | drain <worker|bare> <queue> <n> [<warm queue> <warm n>] [--prof file]");
  process.exit(2);
}
