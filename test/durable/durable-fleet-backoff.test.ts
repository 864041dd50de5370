/**
 * One back-off for the fleet (issue 17): when digi.me answers 429 with
 * `Retry-After: 2`, every worker process of the queue stops starting writes
 * for those 2 s (BullMQ's rate limit), instead of each worker discovering
 * the 429 write by write. And an optional `limiter` caps writes started per
 * second across the fleet. Three worker processes, the sandbox over HTTP,
 * calls counted at the sandbox. Needs Redis.
 */
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WriteClient } from "../../src/index.js";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk, createSandbox } from "../../src/testing/index.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI, setup } from "../support/setup.js";
import { startWorker, type WorkerProcess } from "../support/worker-process.js";
import type { FleetWorkerConfig } from "./support/fleet-worker.js";

const USERS = 20;
const PROCESSES = 3;
const hasRedis = await redisAvailable("durable writes: fleet back-off");
const fleetWorker = fileURLToPath(new URL("./support/fleet-worker.ts", import.meta.url));

describe.skipIf(!hasRedis)("one back-off for the whole fleet", () => {
  const suffix = uniqueSuffix();
  const tokenKeyPrefix = `test:durable-backoff:${suffix}:`;
  const redis = new Redis(REDIS_URL);
  const workers: WorkerProcess[] = [];
  const sandbox = createSandbox();
  const users = Array.from({ length: USERS }, (_, u) => `user-${u}`);
  let endpoints: { applicationId: string; baseUrl: string; onboardUrl: string };

  beforeAll(async () => {
    const server = await sandbox.listen();
    endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
    const parent = new WriteClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: new RedisTokenStore({ client: redis, keyPrefix: tokenKeyPrefix }) });
    for (const userId of users) {
      const { url, sealed } = await parent.beginAuthorization({ userId });
      await parent.completeAuthorization(await sandbox.consent(url, { libraryId: `lib-${userId}` }), { sealed });
    }
    await parent.close();
    sandbox.faults.add({ operation: "write", latencyMs: 5 });
  });

  afterAll(async () => {
    for (const worker of workers) worker.child.kill("SIGKILL");
    await sandbox.close();
    await dropKeysAndQuit(redis, `bull:backoff-${suffix}-*`, `${tokenKeyPrefix}*`);
  });

  /** A fleet on a new queue holding `writes` writes, paused until `go` is called. */
  async function fleet(name: string, writes: number, worker: FleetWorkerConfig["worker"] = {}) {
    const queueName = `backoff-${suffix}-${name}`;
    const config: FleetWorkerConfig = { ...endpoints, contractDetails: sandbox.contractDetails, redisUrl: REDIS_URL, tokenKeyPrefix, queueName, clientConcurrency: 4, worker };
    const processes = Array.from({ length: PROCESSES }, () => startWorker(fleetWorker, config));
    workers.push(...processes);
    await Promise.all(processes.map((w) => w.waitFor((m) => m.ready === true)));
    const control = new Queue(queueName, { connection: bullmqConnection() });
    await control.pause();
    const queue = new DurableWriteQueue({ connection: bullmqConnection(), queueName });
    const ids = Array.from({ length: writes }, (_, i) => `${name}-${i}`);
    const enqueue = (i: number) => queue.enqueue(users[i % USERS]!, { fileData: Buffer.from(ids[i]!), fileName: `${ids[i]!}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [ids[i]!] } }, { id: ids[i]! });
    return {
      ids,
      enqueue,
      go: () => control.resume(),
      results: () => Promise.all(ids.map((id, i) => queue.result(users[i % USERS]!, id))),
      async close() {
        for (const w of processes) w.close();
        expect(await Promise.all(processes.map((w) => w.exited))).toEqual(processes.map(() => 0));
        await queue.close();
        await control.close();
      },
    };
  }

  /** Every call digi.me receives for a write, timed (sampled every millisecond). */
  function recordCalls(): { times: number[]; stop(): void } {
    const times: number[] = [];
    let seen = sandbox.counters.writeAttempts;
    const timer = setInterval(() => {
      const now = performance.now();
      for (; seen < sandbox.counters.writeAttempts; seen += 1) times.push(now);
    }, 1);
    return { times, stop: () => clearInterval(timer) };
  }

  it("a 429 with Retry-After: 2 pauses every worker: no new call reaches digi.me until the 2 s are over, and every write is delivered once", async () => {
    // Writes arrive steadily (one every 10 ms, 4 s), so the workers have free slots when digi.me starts refusing:
    // without one pause for the fleet, each would take the next job and meet the 429 again, write by write.
    const run = await fleet("retry-after", 400);
    const calls = recordCalls();
    await run.go();
    const producing = (async () => {
      for (let i = 0; i < run.ids.length; i += 1) {
        await run.enqueue(i);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    while (sandbox.counters.deliveries < 50) await new Promise((resolve) => setTimeout(resolve, 2));
    // digi.me throttles: every write call is refused with 429, Retry-After: 2, for 2 s.
    const throttle = sandbox.faults.add({ operation: "write", status: 429, retryAfterSeconds: 2 });
    while (throttle.hits === 0) await new Promise((resolve) => setImmediate(resolve));
    const first429 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    throttle.remove();
    await producing;
    const receipts = await run.results();
    calls.stop();

    // Calls digi.me saw after the pause had reached the fleet (100 ms) and before it ended.
    const duringPause = calls.times.filter((t) => t > first429 + 100 && t < first429 + 1_900).length;
    console.log(`durable fleet back-off: ${throttle.hits} calls answered 429 (in flight when it began: at most ${PROCESSES * 4}), ${duringPause} calls during the pause`);
    expect(duringPause).toBeLessThanOrEqual(PROCESSES); // at most one per worker; in practice none
    expect(throttle.hits).toBeLessThanOrEqual(PROCESSES * 4 + PROCESSES);
    expect(receipts).toHaveLength(400);
    const copies = users.flatMap((u) => sandbox.library(`lib-${u}`)!.files.map((f) => f.fileDescriptor.reference![0]!)).filter((id) => id.startsWith("retry-after-"));
    expect(copies.sort()).toEqual([...run.ids].sort());
    await run.close();
  }, 120_000);

  it("limiter { max: 20, duration: 1000 } caps writes started across the fleet: 60 writes take at least 2 s", async () => {
    const run = await fleet("limited", 60, { limiter: { max: 20, duration: 1_000 } });
    await Promise.all(run.ids.map((_, i) => run.enqueue(i)));
    const started = performance.now();
    await run.go();
    await run.results();
    const seconds = (performance.now() - started) / 1000;
    console.log(`durable limiter: 60 writes at 20/s across ${PROCESSES} workers took ${seconds.toFixed(2)} s`);
    expect(seconds).toBeGreaterThanOrEqual(2);
    await run.close();
  }, 60_000);
});

describe.skipIf(!hasRedis)("a 429 without Retry-After", () => {
  const suffix = uniqueSuffix();
  const redis = new Redis(REDIS_URL);
  afterAll(async () => dropKeysAndQuit(redis, `bull:backoff-plain-${suffix}*`));

  it("pauses the queue for the client's back-off delay, hands the job back without using up a run, and delivers it once", async () => {
    const harness = setup("v16", { retry: { minDelayMs: 400, maxDelayMs: 400, jitter: false } });
    const library = await harness.authorize("alice");
    const throttle = harness.sandbox.faults.add({ operation: "write", status: 429, times: 1 });
    const queueName = `backoff-plain-${suffix}`;
    const queue = new DurableWriteQueue({ connection: bullmqConnection(), queueName });
    const worker = new WriteWorker({ client: harness.client, connection: bullmqConnection(), queueName });
    await queue.enqueue("alice", { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } }, { id: "plain-429" });
    await expect.poll(() => throttle.hits, { timeout: 5_000, interval: 5 }).toBe(1);
    // BullMQ's rate limit is set for the whole queue, for about the back-off delay.
    await expect.poll(() => redis.pttl(`bull:${queueName}:limiter`), { timeout: 1_000, interval: 5 }).toBeGreaterThan(0);
    const receipt = await queue.result("alice", "plain-429");
    expect(receipt.possibleDuplicate).toBe(false);
    expect(harness.sandbox.library(library)!.files).toHaveLength(1);
    expect(harness.sandbox.counters.writeAttempts).toBe(2);
    const inspector = new Queue(queueName, { connection: bullmqConnection() });
    const job = await inspector.getJob("w-alice/plain-429");
    await inspector.close();
    expect(job?.attemptsMade).toBe(1); // runs used: only the one that delivered (the 429 handed the job back)
    await worker.close();
    await queue.close();
    await harness.client.close();
  }, 30_000);
});
