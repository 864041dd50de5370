/**
 * D. Durable writes (BullMQ on Redis) against the in-memory WriteClient, at
 * the same concurrency (16) and 2 ms simulated SDK latency, 100 users.
 *
 * In-memory arm: as figure 1, every write submitted at once to client.write.
 * Durable arms: this process enqueues every write through DurableWriteQueue
 * (64 enqueues outstanding; their latency is figure D4), then 1, 2 or 4
 * worker processes (each a WriteWorker over a WriteClient on its own
 * sandbox, concurrency 16, set up beforehand) are told to start; the clock
 * runs from that word to the last job reported completed (QueueEvents). So
 * the durable figure is delivery throughput: Redis, BullMQ's bookkeeping per
 * job, the payload release and the client's delivery.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); without it the
 * rows say so.
 */
import { fork, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import type { BenchOutcome, Benchmark, Row } from "../lib/report.js";
import { collect, median, percentile } from "../lib/stats.js";
import { burst, createWorld, submitter, SMALL_FILE } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const LATENCY_MS = 2;
const WINDOW = 64;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };

async function redisUp(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function inMemory(writes: number): Promise<number> {
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  const submit = submitter(world, "client");
  await collect();
  const started = performance.now();
  const failed = await burst(writes, submit);
  const seconds = (performance.now() - started) / 1000;
  await world.client.close();
  if (failed !== 0) throw new Error(`durable (in-memory): ${failed} of ${writes} writes failed`);
  return writes / seconds;
}

/** Worker mode (`--arm worker`): a WriteWorker on the queue named in BENCH_DURABLE_QUEUE, until told to stop. */
async function workerMode(): Promise<BenchOutcome> {
  const queueName = process.env.BENCH_DURABLE_QUEUE!;
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  const told = (word: string) => new Promise<void>((resolve) => process.on("message", (m) => m === word && resolve()));
  const go = told("go");
  const stopped = told("stop");
  process.send!("ready");
  await go;
  const worker = new WriteWorker({ client: world.client, connection, queueName, concurrency: CONCURRENCY });
  await stopped;
  await worker.close();
  await world.client.close();
  return { rows: [], details: { deliveries: world.sandbox.counters.deliveries } };
}

function startWorker(queueName: string): { child: ChildProcess; ready: Promise<void>; done: Promise<{ deliveries: number }> } {
  const script = process.env.BENCH_CHILD ?? fileURLToPath(import.meta.url);
  const child = fork(script, ["durable", "--arm", "worker"], { execArgv: ["--expose-gc", "--enable-source-maps"], stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, BENCH_DURABLE_QUEUE: queueName } });
  let outcome: BenchOutcome | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.on("message", (m) => {
      if (m === "ready") resolve();
      else outcome = m as BenchOutcome;
    });
    child.once("exit", () => reject(new Error("durable worker exited before it was ready")));
  });
  const done = new Promise<{ deliveries: number }>((resolve, reject) =>
    child.once("exit", (code) => (code === 0 && outcome !== undefined ? resolve(outcome.details as { deliveries: number }) : reject(new Error(`durable worker exited with ${code}`)))),
  );
  return { child, ready, done };
}

async function durable(workers: number, writes: number): Promise<{ perSecond: number; enqueueMs: number[] }> {
  const queueName = `bench-durable-${process.pid}-${Date.now().toString(36)}-${workers}`;
  const children = Array.from({ length: workers }, () => startWorker(queueName));
  const queue = new DurableWriteQueue({ connection, queueName });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  let completed = 0;
  const allDone = new Promise<void>((resolve) => events.on("completed", () => void (++completed === writes && resolve())));
  const enqueueMs: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < writes) {
        const i = next++;
        const t0 = performance.now();
        await queue.enqueue(`user-${i % USERS}`, SMALL_FILE, { id: `w${i}` });
        enqueueMs.push(performance.now() - t0);
      }
    }),
  );
  await Promise.all(children.map((c) => c.ready));
  await collect();
  const started = performance.now();
  for (const c of children) c.child.send("go");
  await allDone;
  const seconds = (performance.now() - started) / 1000;
  for (const c of children) c.child.send("stop");
  const delivered = (await Promise.all(children.map((c) => c.done))).reduce((n, d) => n + d.deliveries, 0);
  await events.close();
  await queue.close();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`bull:${queueName}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  if (delivered < writes) throw new Error(`durable (${workers} workers): ${delivered} deliveries for ${writes} writes`);
  return { perSecond: writes / seconds, enqueueMs };
}

export const durableWrites: Benchmark = {
  name: "durable",
  async run({ quick, arm }) {
    if (arm === "worker") return workerMode();
    const figure = `durable writes (BullMQ), ${LATENCY_MS} ms SDK latency, concurrency ${CONCURRENCY}`;
    if (!(await redisUp())) {
      return { rows: [{ id: "D1", figure: `${figure}: Redis unreachable at ${REDIS_URL}`, unit: "writes/s", client: null, baseline: null }], details: { skipped: "Redis unreachable" } };
    }
    const writes = quick ? 2_000 : 5_000;
    const rounds = quick ? 1 : 3;
    await inMemory(1_000); // warm up
    const memory: number[] = [];
    const byWorkers: Record<number, number[]> = { 1: [], 2: [], 4: [] };
    let enqueueMs: number[] = [];
    for (let r = 0; r < rounds; r += 1) {
      memory.push(await inMemory(writes));
      for (const workers of [1, 2, 4]) {
        const result = await durable(workers, writes);
        byWorkers[workers]!.push(result.perSecond);
        if (workers === 1) enqueueMs = enqueueMs.concat(result.enqueueMs);
      }
    }
    const baseline = median(memory);
    const rows: Row[] = [1, 2, 4].map((workers, i) => {
      const client = median(byWorkers[workers]!);
      const ratio = client / baseline;
      return {
        id: `D${i + 1}`,
        figure: `${figure}, ${writes.toLocaleString("en-US")} writes over ${USERS} users, ${workers} worker process${workers === 1 ? "" : "es"} vs in-memory WriteClient`,
        unit: "writes/s",
        client,
        baseline,
        ratio,
        ...(workers === 1 ? { goal: "ratio ≥ 0.8", met: ratio >= 0.8 } : {}),
      };
    });
    rows.push({ id: "D4", figure: `DurableWriteQueue.enqueue latency p50 / p99, ${WINDOW} outstanding, nothing draining`, unit: "ms", client: `${percentile(enqueueMs, 50).toFixed(2)} / ${percentile(enqueueMs, 99).toFixed(2)}`, baseline: null });
    return { rows, details: { writes, users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, rounds: { inMemory: memory, ...byWorkers } } };
  },
};
