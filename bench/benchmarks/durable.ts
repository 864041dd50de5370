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
 * D0 is what an app writes without this library, on the same jobs (enqueued
 * the same way, through DurableWriteQueue): one process, a bare BullMQ
 * Worker holding as many jobs as D1's WriteWorker takes from Redis (32,
 * twice the client's slots), whose processor decodes each job's payload
 * into a file and pushes it with the user's token through the same SDK 16.x
 * fake (same sandbox set-up, same 2 ms latency fault), 16 calls at a time
 * through a p-queue (the bench world's bare baseline, the client's global
 * concurrency). D5 compares CPU per job against the same D0.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); without it the
 * rows say so.
 */
import { fork, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { WriteClient } from "../../src/index.js";
import { DurableWriteQueue, WRITE_WORKER_DEFAULTS, WriteWorker } from "../../src/bullmq.js";
import type { WriteJobData } from "../../src/durable/job-data.js";
import type { BenchOutcome, Benchmark, Row } from "../lib/report.js";
import { reachRedis, REDIS_URL } from "../lib/redis.js";
import { collect, median, percentile } from "../lib/stats.js";
import { createWorld, rateRound, REDIRECT_URI, SMALL_FILE, STATE_SECRET } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const LATENCY_MS = 2;
const WINDOW = 64;
// D0 holds as many jobs as D1's WriteWorker takes from Redis (twice the client's slots); its SDK calls go 16 at a time, as the client's.
const BARE_JOBS = WRITE_WORKER_DEFAULTS.jobsPerDeliverySlot * CONCURRENCY;
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
 * bare`: a bare BullMQ Worker whose processor pushes each job's file through
 * the same SDK fake, as an app without this library would). The process
 * lives across rounds, so its code is warm as a long-running worker's is:
 * each `go` starts a worker on that round's queue, `stop` closes it and
 * reports the deliveries (the sandbox's counter, on both arms) and the CPU
 * it used.
 */
async function workerMode(arm: WorkerArm): Promise<BenchOutcome> {
  const bare = arm === "bare";
  // Both arms get the same sandbox: the same users and tokens, the same SDK 16.x fake, the same latency fault.
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  // The bare arm only needs the client to authorize its users: closed at once, it keeps no timers in this process.
  if (bare) await world.client.close();
  const sdk = bare ? world.baseline() : undefined;
  const deliveries = () => world.sandbox.counters.deliveries;
  /** A naive app's processor: the job's inline payload decoded into a file, pushed with the user's token (the baseline keeps a token the SDK announces). */
  const push = async (job: Job<WriteJobData>): Promise<void> => {
    const { userId, fileName, fileDescriptor, payload } = job.data;
    if (payload.kind !== "inline") throw new Error(`bare BullMQ: job ${job.id} has no inline payload`);
    await sdk!.write(userId, { fileData: Buffer.from(payload.base64, "base64"), fileName, fileDescriptor });
  };
  const start = (queueName: string): { close(): Promise<void> } =>
    bare ? new Worker(queueName, push, { connection, concurrency: BARE_JOBS }) : new WriteWorker({ client: world.client, connection, queueName });
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
  if (!bare) await world.client.close();
  return { rows: [], details: {} };
}

/** The fairness scenario of issue 17: one user's writes queued first, then a few each for light users. */
const HEAVY_WRITES = 1_500;
const LIGHT_USERS = 5;
const LIGHT_WRITES = 6;
const heavyThenLight = (i: number): string => (i < HEAVY_WRITES ? "user-0" : `user-${1 + Math.floor((i - HEAVY_WRITES) / LIGHT_WRITES)}`);

/** When the light users' last write was delivered, as a share of the whole drain. */
function lightShare(finishedMs: Map<string, number[]>): number {
  const last = (users: string[]) => Math.max(...users.flatMap((u) => finishedMs.get(u) ?? []));
  const light = Array.from({ length: LIGHT_USERS }, (_, u) => `user-${u + 1}`);
  return last(light) / last(["user-0", ...light]);
}

/** The same scenario on the in-memory client: every write submitted at once, heavy first. */
async function inMemoryLightShare(): Promise<number> {
  const world = await createWorld({ users: 1 + LIGHT_USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  const finishedMs = new Map<string, number[]>();
  const started = performance.now();
  const all: Array<Promise<unknown>> = [];
  for (let i = 0; i < HEAVY_WRITES + LIGHT_USERS * LIGHT_WRITES; i += 1) {
    const user = heavyThenLight(i);
    all.push(world.client.write(user, SMALL_FILE).then(() => finishedMs.set(user, [...(finishedMs.get(user) ?? []), performance.now() - started])));
  }
  await Promise.all(all);
  await world.client.close();
  return lightShare(finishedMs);
}

/**
 * Time from a user's new consent to the first delivery of their parked
 * writes: 20 writes parked (the user's tokens refused by digi.me), then the
 * user authorizes again through another client on the same token store; the
 * worker (default resumeCheckMs) notices and resumes them.
 */
async function consentToResumeMs(): Promise<number> {
  const world = await createWorld({ users: 1, concurrency: CONCURRENCY, latencyMs: LATENCY_MS });
  world.sandbox.expireAccessTokens({ libraryId: "library-0" });
  world.sandbox.expireRefreshTokens({ libraryId: "library-0" });
  const queueName = `bench-durable-parked-${process.pid}-${Date.now()}`;
  const queue = new DurableWriteQueue({ connection, queueName });
  const worker = new WriteWorker({ client: world.client, connection, queueName });
  let parked = 0;
  const allParked = new Promise<void>((resolve) => queue.on("parked", () => void (++parked === 20 && resolve())));
  await queue.listen();
  for (let i = 0; i < 20; i += 1) await queue.enqueue("user-0", SMALL_FILE, { id: `p${i}` });
  await allParked;
  const other = new WriteClient({ sdk: world.sandbox.sdk("v16"), contractDetails: world.sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: world.store, stateSecret: STATE_SECRET, now: world.sandbox.now });
  const { url, sealed } = await other.beginAuthorization({ userId: "user-0" });
  const firstDelivery = new Promise<number>((resolve) => queue.once("delivered", () => resolve(performance.now())));
  await other.completeAuthorization(await world.sandbox.consent(url, { libraryId: "library-0" }), { sealed });
  const consented = performance.now();
  const ms = (await firstDelivery) - consented;
  await Promise.all(Array.from({ length: 20 }, (_, i) => queue.result("user-0", `p${i}`)));
  await worker.close();
  await queue.close();
  await Promise.all([world.client.close(), other.close()]);
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`bull:${queueName}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  return ms;
}

/** What one round of a fleet measured. */
interface DurableRound {
  perSecond: number;
  /** When each write was delivered (BullMQ's finishedOn), ms after the fleet was told to start, by user. */
  finishedMs: Map<string, number[]>;
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
  async round(writes: number, userOf: (i: number) => string = (i) => `user-${i % USERS}`): Promise<DurableRound> {
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
          await queue.enqueue(userOf(i), SMALL_FILE, { id: `w${i}` });
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
    const startedAt = Date.now();
    for (const child of this.#children) child.send({ go: queueName } satisfies ToWorker);
    while ((await redis.zcard(`bull:${queueName}:completed`)) < writes) await new Promise((resolve) => setTimeout(resolve, 5));
    const seconds = (performance.now() - started) / 1000;
    const redisUsed = (await redisCpuMicros(redis)) - redisBefore;
    for (const child of this.#children) child.send("stop" satisfies ToWorker);
    const reports = await Promise.all(stopped);
    const finishedMs = new Map<string, number[]>();
    const completed = await redis.zrange(`bull:${queueName}:completed`, "0", "-1", "WITHSCORES");
    for (let i = 0; i < completed.length; i += 2) {
      const user = /^w-([^/]+)\//.exec(completed[i]!)?.[1] ?? "?";
      finishedMs.set(user, [...(finishedMs.get(user) ?? []), Number(completed[i + 1]) - startedAt]);
    }
    await queue.close();
    const keys = await redis.keys(`bull:${queueName}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    const delivered = reports.reduce((n, r) => n + r.deliveries, 0);
    if (delivered < writes) throw new Error(`durable (${this.#arm}, ${this.#children.length} processes): ${delivered} deliveries for ${writes} writes`);
    const workerCpu = reports.reduce((n, r) => n + r.cpuMicros, 0);
    return { perSecond: writes / seconds, finishedMs, enqueueMs, workerCpuMicros: workerCpu / writes, redisCpuMicros: redisUsed / writes };
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
    if (arm === "worker" || arm === "bare") return workerMode(arm);
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
    // The same worker at its defaults: a user alone borrows every idle slot (lendIdleSlots).
    const lone = new Fleet(1, "worker");
    const loneRounds: number[] = [];
    const shares: Record<"inMemory" | "1 worker" | "2 workers", number[]> = { inMemory: [], "1 worker": [], "2 workers": [] };
    const resumeMs: number[] = [];
    const order = ["bare", 1, 2, 4] as const;
    const memory: number[] = [];
    const measured = new Map<(typeof order)[number], DurableRound[]>(order.map((k) => [k, []]));
    try {
      // Warm up every worker process on a round of its own, as a long-running worker is warm.
      for (const key of order) await fleets[key].round(1_000);
      await lone.round(1_000, () => "user-0");
      for (let r = 0; r < rounds; r += 1) {
        memory.push(await inMemory(writes));
        for (const key of order) measured.get(key)!.push(await fleets[key].round(writes));
        loneRounds.push((await lone.round(writes, () => "user-0")).perSecond);
        shares.inMemory.push(await inMemoryLightShare());
        shares["1 worker"].push(lightShare((await fleets[1].round(HEAVY_WRITES + LIGHT_USERS * LIGHT_WRITES, heavyThenLight)).finishedMs));
        shares["2 workers"].push(lightShare((await fleets[2].round(HEAVY_WRITES + LIGHT_USERS * LIGHT_WRITES, heavyThenLight)).finishedMs));
        resumeMs.push(await consentToResumeMs());
      }
    } finally {
      await Promise.all([...order.map((key) => fleets[key].close()), lone.close()]);
    }
    const baseline = median(memory);
    const med = (key: (typeof order)[number], pick: (r: DurableRound) => number) => median(measured.get(key)!.map(pick));
    const bareRate = med("bare", (r) => r.perSecond);
    const rows: Row[] = [
      {
        id: "D0",
        figure: `bare BullMQ Worker, 1 process, the same jobs: holds ${BARE_JOBS} jobs (as D1's worker), pushes each job's file through the same SDK fake, ${CONCURRENCY} at a time (p-queue), vs in-memory WriteClient`,
        unit: "writes/s",
        client: bareRate,
        baseline,
        ratio: bareRate / baseline,
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
    const d1 = med(1, (r) => r.perSecond);
    rows.push({
      id: "D1/D0",
      figure: "durable writes, 1 worker process (D1) over bare BullMQ draining the same jobs through the same SDK fake (D0), same run",
      unit: "writes/s",
      client: d1,
      baseline: bareRate,
      ratio: d1 / bareRate,
      goal: "ratio ≥ 0.9",
      met: d1 / bareRate >= 0.9,
    });
    rows.push({
      id: "D6",
      figure: `one user alone, ${writes.toLocaleString("en-US")} writes, 1 worker process at its defaults (a lone user borrows all ${CONCURRENCY} slots) vs D1 (${USERS} users)`,
      unit: "writes/s",
      client: median(loneRounds),
      baseline: d1,
      ratio: median(loneRounds) / d1,
      goal: "ratio ≥ 0.9",
      met: median(loneRounds) / d1 >= 0.9,
    });
    const durableShare = median(shares["1 worker"]);
    rows.push({
      id: "D7",
      figure: `fairness: ${HEAVY_WRITES.toLocaleString("en-US")} writes of one user queued first, then ${LIGHT_WRITES} each for ${LIGHT_USERS} users; when the light users' last write is delivered, as a share of the drain: durable (1 worker process) vs in-memory client`,
      unit: "share",
      client: durableShare,
      baseline: median(shares.inMemory),
      goal: "≤ 0.2",
      met: durableShare <= 0.2,
    });
    rows.push({ id: "D8", figure: "parked writes: a user's new consent (through another client on the same store) to the first delivery of their parked writes, default resumeCheckMs", unit: "ms", client: median(resumeMs), baseline: null });
    const enqueueMs = measured.get(1)!.flatMap((r) => r.enqueueMs);
    rows.push({ id: "D4", figure: `DurableWriteQueue.enqueue latency p50 / p99, ${WINDOW} outstanding, nothing draining`, unit: "ms", client: `${percentile(enqueueMs, 50).toFixed(2)} / ${percentile(enqueueMs, 99).toFixed(2)}`, baseline: null });
    const cpu = (key: (typeof order)[number]) => `${med(key, (r) => r.workerCpuMicros).toFixed(0)} / ${med(key, (r) => r.redisCpuMicros).toFixed(0)}`;
    rows.push({ id: "D5", figure: "CPU per job, worker processes / Redis: 1 WriteWorker process (D1) vs bare BullMQ (D0)", unit: "µs", client: cpu(1), baseline: cpu("bare") });
    const perSecond = Object.fromEntries(order.map((key) => [key === "bare" ? "bareBullmq" : `${key} workers`, measured.get(key)!.map((r) => r.perSecond)]));
    const cpuPerJob = Object.fromEntries(order.map((key) => [key === "bare" ? "bareBullmq" : `${key} workers`, measured.get(key)!.map((r) => ({ workers: r.workerCpuMicros, redis: r.redisCpuMicros }))]));
    return { rows, details: { writes, users: USERS, concurrency: CONCURRENCY, latencyMs: LATENCY_MS, rounds: { inMemory: memory, ...perSecond, loneUser: loneRounds }, lightShares: shares, consentToResumeMs: resumeMs, cpuMicrosPerJob: cpuPerJob } };
  },
};
