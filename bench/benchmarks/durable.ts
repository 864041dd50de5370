/**
 * D. Durable writes (BullMQ on Redis) against the in-memory WriteClient, at
 * the same concurrency (16) and 2 ms simulated SDK latency, 100 users.
 *
 * In-memory arm: as figure 1, every write submitted at once to client.write.
 * Durable arms: this process enqueues every write through DurableWriteQueue
 * (64 enqueues outstanding; their latency is figure D4), then 1, 2 or 4
 * worker processes (each a WriteWorker over a WriteClient on its own
 * sandbox, set up beforehand) are told to start; the clock runs from that
 * word until Redis's completed set holds every job (looked at every 5 ms:
 * listening to QueueEvents would cost this process CPU per job that the
 * workers and Redis need on a small machine). Each client
 * delivers 16 at once, as in the in-memory arm; its WriteWorker holds 32
 * jobs (its default, twice the client's concurrency). So the durable figure
 * is delivery throughput: Redis, BullMQ's bookkeeping per job, the payload
 * release and the client's delivery.
 *
 * D0 is the ceiling on this machine: a bare BullMQ Worker (concurrency 16,
 * a processor that only waits 2 ms) draining the same jobs in one process.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); without it the
 * rows say so.
 */
import { fork, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import type { BenchOutcome, Benchmark, Row } from "../lib/report.js";
import { reachRedis, REDIS_URL } from "../lib/redis.js";
import { collect, median, percentile } from "../lib/stats.js";
import { createWorld, rateRound, SMALL_FILE } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const LATENCY_MS = 2;
const WINDOW = 64;
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };

function inMemory(writes: number): Promise<number> {
  return rateRound("durable (in-memory)", { users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS }, "client", writes);
}

type WorkerArm = "worker" | "bare";
/** Parent → worker process: start on a queue, stop (and report), or exit. */
type ToWorker = { go: string } | "stop" | "exit";
/** Worker process → parent. */
type FromWorker = "ready" | { stopped: { deliveries: number; cpuMicros: number } };

/**
 * Worker mode (`--arm worker`: a WriteWorker over a WriteClient; `--arm
 * bare`: a bare BullMQ Worker whose processor only waits the latency). The
 * process lives across rounds, so its code is warm as a long-running
 * worker's is: each `go` starts a worker on that round's queue, `stop`
 * closes it and reports the deliveries and the CPU it used.
 */
async function workerMode(bare: boolean): Promise<BenchOutcome> {
  // Only a WriteWorker needs a client and its sandbox; the bare worker counts its own jobs.
  const world = bare ? undefined : await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  let processed = 0;
  const deliveries = () => world?.sandbox.counters.deliveries ?? processed;
  const wait = () => new Promise((done) => setTimeout(done, LATENCY_MS));
  const start = (queueName: string): { close(): Promise<void> } =>
    world === undefined
      ? new Worker(queueName, async () => { await wait(); processed += 1; return "ok"; }, { connection, concurrency: CONCURRENCY })
      : new WriteWorker({ client: world.client, connection, queueName });
  const send = (message: FromWorker) => process.send!(message);
  let worker: { close(): Promise<void> } | undefined;
  let cpuBefore = process.cpuUsage();
  let deliveriesBefore = 0;
  await new Promise<void>((resolve) => {
    process.on("message", (message: ToWorker) => {
      if (typeof message === "object") {
        cpuBefore = process.cpuUsage();
        deliveriesBefore = deliveries();
        worker = start(message.go);
      } else if (message === "stop") {
        void worker!.close().then(() => {
          const cpu = process.cpuUsage(cpuBefore);
          send({ stopped: { deliveries: deliveries() - deliveriesBefore, cpuMicros: cpu.user + cpu.system } });
        });
      } else {
        resolve();
      }
    });
    send("ready");
  });
  await world?.client.close();
  return { rows: [], details: {} };
}

/** What one round of a fleet measured. */
interface DurableRound {
  perSecond: number;
  enqueueMs: number[];
  /** CPU of the worker processes, and of Redis, per job. */
  workerCpuMicros: number;
  redisCpuMicros: number;
}

/** Redis's own CPU so far (INFO cpu), µs. */
async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
  return (read("used_cpu_sys") + read("used_cpu_user")) * 1e6;
}

/** `size` worker processes of one arm, alive for every round. */
class Fleet {
  readonly #children: ChildProcess[] = [];
  readonly #ready: Array<Promise<void>> = [];
  readonly #arm: WorkerArm;
  #round = 0;

  constructor(size: number, arm: WorkerArm) {
    this.#arm = arm;
    const script = process.env.BENCH_CHILD ?? fileURLToPath(import.meta.url);
    for (let i = 0; i < size; i += 1) {
      const child = fork(script, ["durable", "--arm", arm], { execArgv: ["--expose-gc", "--enable-source-maps"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
      this.#children.push(child);
      this.#ready.push(
        new Promise<void>((resolve, reject) => {
          child.once("message", (m) => (m === "ready" ? resolve() : reject(new Error(`durable worker said ${JSON.stringify(m)}`))));
          child.once("exit", (code) => reject(new Error(`durable worker exited with ${code} before it was ready`)));
        }),
      );
    }
  }

  /** Enqueue `writes` on a new queue, let the fleet drain it, and measure. */
  async round(writes: number): Promise<DurableRound> {
    await Promise.all(this.#ready);
    this.#round += 1;
    const queueName = `bench-durable-${process.pid}-${this.#arm}-${this.#children.length}-${this.#round}`;
    const queue = new DurableWriteQueue({ connection, queueName });
    const redis = new Redis(REDIS_URL);
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
    await collect();
    const stopped = this.#children.map(
      (child) => new Promise<{ deliveries: number; cpuMicros: number }>((resolve) => {
        const listen = (m: FromWorker) => {
          if (typeof m === "object") {
            child.off("message", listen);
            resolve(m.stopped);
          }
        };
        child.on("message", listen);
      }),
    );
    const redisBefore = await redisCpuMicros(redis);
    const started = performance.now();
    for (const child of this.#children) child.send({ go: queueName } satisfies ToWorker);
    while ((await redis.zcard(`bull:${queueName}:completed`)) < writes) await new Promise((resolve) => setTimeout(resolve, 5));
    const seconds = (performance.now() - started) / 1000;
    const redisUsed = (await redisCpuMicros(redis)) - redisBefore;
    for (const child of this.#children) child.send("stop" satisfies ToWorker);
    const reports = await Promise.all(stopped);
    await queue.close();
    const keys = await redis.keys(`bull:${queueName}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    const delivered = reports.reduce((n, r) => n + r.deliveries, 0);
    if (delivered < writes) throw new Error(`durable (${this.#arm}, ${this.#children.length} processes): ${delivered} deliveries for ${writes} writes`);
    const workerCpu = reports.reduce((n, r) => n + r.cpuMicros, 0);
    return { perSecond: writes / seconds, enqueueMs, workerCpuMicros: workerCpu / writes, redisCpuMicros: redisUsed / writes };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.map((child) => new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.send("exit" satisfies ToWorker);
      })),
    );
  }
}

export const durableWrites: Benchmark = {
  name: "durable",
  async run({ quick, arm }) {
    if (arm === "worker" || arm === "bare") return workerMode(arm === "bare");
    const figure = `durable writes (BullMQ), ${LATENCY_MS} ms SDK latency, concurrency ${CONCURRENCY}`;
    const probe = await reachRedis();
    probe?.disconnect();
    if (probe === undefined) {
      return { rows: [{ id: "D1", figure: `${figure}: Redis unreachable at ${REDIS_URL}`, unit: "writes/s", client: null, baseline: null }], details: { skipped: "Redis unreachable" } };
    }
    const writes = quick ? 2_000 : 5_000;
    const rounds = quick ? 1 : 3;
    await inMemory(1_000); // warm up
    const fleets = { bare: new Fleet(1, "bare"), 1: new Fleet(1, "worker"), 2: new Fleet(2, "worker"), 4: new Fleet(4, "worker") } as const;
    const order = ["bare", 1, 2, 4] as const;
    const memory: number[] = [];
    const measured = new Map<(typeof order)[number], DurableRound[]>(order.map((k) => [k, []]));
    try {
      // Warm up every worker process on a round of its own, as a long-running worker is warm.
      for (const key of order) await fleets[key].round(1_000);
      for (let r = 0; r < rounds; r += 1) {
        memory.push(await inMemory(writes));
        for (const key of order) measured.get(key)!.push(await fleets[key].round(writes));
      }
    } finally {
      await Promise.all(order.map((key) => fleets[key].close()));
    }
    const baseline = median(memory);
    const med = (key: (typeof order)[number], pick: (r: DurableRound) => number) => median(measured.get(key)!.map(pick));
    const ceiling = med("bare", (r) => r.perSecond);
    const rows: Row[] = [
      {
        id: "D0",
        figure: `bare BullMQ Worker (concurrency ${CONCURRENCY}, a processor that only waits ${LATENCY_MS} ms), 1 process, the same jobs: the ceiling on this machine`,
        unit: "writes/s",
        client: ceiling,
        baseline,
        ratio: ceiling / baseline,
      },
    ];
    for (const [i, workers] of ([1, 2, 4] as const).entries()) {
      const client = med(workers, (r) => r.perSecond);
      const ratio = client / baseline;
      rows.push({
        id: `D${i + 1}`,
        figure: `${figure}, ${writes.toLocaleString("en-US")} writes over ${USERS} users, ${workers} worker process${workers === 1 ? "" : "es"} vs in-memory WriteClient`,
        unit: "writes/s",
        client,
        baseline,
        ratio,
        ...(workers === 1 ? { goal: "ratio ≥ 0.8", met: ratio >= 0.8 } : {}),
      });
    }
    const enqueueMs = measured.get(1)!.flatMap((r) => r.enqueueMs);
    rows.push({ id: "D4", figure: `DurableWriteQueue.enqueue latency p50 / p99, ${WINDOW} outstanding, nothing draining`, unit: "ms", client: `${percentile(enqueueMs, 50).toFixed(2)} / ${percentile(enqueueMs, 99).toFixed(2)}`, baseline: null });
    const cpu = (key: (typeof order)[number]) => `${med(key, (r) => r.workerCpuMicros).toFixed(0)} / ${med(key, (r) => r.redisCpuMicros).toFixed(0)}`;
    rows.push({ id: "D5", figure: "CPU per job, worker processes / Redis: 1 WriteWorker process (D1) vs bare BullMQ (D0)", unit: "µs", client: cpu(1), baseline: cpu("bare") });
    const perSecond = Object.fromEntries(order.map((key) => [key === "bare" ? "bareBullmq" : `${key} workers`, measured.get(key)!.map((r) => r.perSecond)]));
    const cpuPerJob = Object.fromEntries(order.map((key) => [key === "bare" ? "bareBullmq" : `${key} workers`, measured.get(key)!.map((r) => ({ workers: r.workerCpuMicros, redis: r.redisCpuMicros }))]));
    return { rows, details: { writes, users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, rounds: { inMemory: memory, ...perSecond }, cpuMicrosPerJob: cpuPerJob } };
  },
};
