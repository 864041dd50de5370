/**
 * Fair shares across users (issue 17): one user's 1,500 writes are queued
 * first, then 6 writes each for 5 other users; worker processes deliver them
 * through the sandbox served over HTTP with 5 ms of digi.me latency. The
 * light users' writes must all be delivered within the first 20 % of the
 * drain, with 1 and with 3 worker processes. The queue is paused while the
 * writes are enqueued, so every write is queued before the drain starts.
 * Needs Redis.
 */
import { performance } from "node:perf_hooks";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WriteClient } from "../../src/index.js";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk, createSandbox } from "../../src/testing/index.js";
import type { DurableWorkerConfig } from "../support/durable-worker.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI, setup } from "../support/setup.js";
import { startWorker, type WorkerProcess } from "../support/worker-process.js";

const HEAVY_WRITES = 1_500;
const LIGHT_USERS = 5;
const LIGHT_WRITES = 6;
const hasRedis = await redisAvailable("durable writes: fairness");

describe.skipIf(!hasRedis)("durable writes are fair across users", () => {
  const suffix = uniqueSuffix();
  const tokenKeyPrefix = `test:durable-fair:${suffix}:`;
  const redis = new Redis(REDIS_URL);
  const workers: WorkerProcess[] = [];
  const sandbox = createSandbox();
  const users = ["heavy", ...Array.from({ length: LIGHT_USERS }, (_, u) => `light-${u}`)];
  let endpoints: { applicationId: string; baseUrl: string; onboardUrl: string };

  beforeAll(async () => {
    const server = await sandbox.listen();
    endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
    const tokenStore = new RedisTokenStore({ client: redis, keyPrefix: tokenKeyPrefix });
    const parent = new WriteClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore });
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
    await dropKeysAndQuit(redis, `bull:fair-${suffix}-*`, `${tokenKeyPrefix}*`);
  });

  async function lightShare(processes: number): Promise<{ share: number; drainSeconds: number }> {
    const queueName = `fair-${suffix}-${processes}`;
    const config: DurableWorkerConfig = {
      ...endpoints,
      contractDetails: sandbox.contractDetails,
      redisUrl: REDIS_URL,
      tokenKeyPrefix,
      queueName,
      concurrency: 16,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
    };
    const fleet = Array.from({ length: processes }, () => startWorker("./durable-worker.ts", config));
    workers.push(...fleet);
    await Promise.all(fleet.map((w) => w.waitFor((m) => m.ready === true)));

    // Paused while enqueueing: every write is queued before any is taken.
    const control = new Queue(queueName, { connection: bullmqConnection() });
    await control.pause();
    const queue = new DurableWriteQueue({ connection: bullmqConnection(), queueName });
    for (let i = 0; i < HEAVY_WRITES; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, HEAVY_WRITES - i) }, (_, k) => queue.enqueue("heavy", file(`heavy-${i + k}`), { id: `heavy-${i + k}` })));
    }
    for (let u = 0; u < LIGHT_USERS; u += 1) {
      for (let k = 0; k < LIGHT_WRITES; k += 1) await queue.enqueue(`light-${u}`, file(`light-${u}-${k}`), { id: `light-${u}-${k}` });
    }

    const deliveredAt = new Map<string, number>();
    const total = HEAVY_WRITES + LIGHT_USERS * LIGHT_WRITES;
    const allDelivered = new Promise<void>((resolve) => {
      for (const worker of fleet) {
        worker.child.stdout!.on("data", () => {
          for (const m of worker.messages) if (typeof m.succeeded === "string" && !deliveredAt.has(m.succeeded)) deliveredAt.set(m.succeeded, performance.now());
          if (deliveredAt.size >= total) resolve();
        });
      }
    });
    const started = performance.now();
    await control.resume();
    await allDelivered;
    const end = Math.max(...deliveredAt.values());
    const lightLast = Math.max(...[...deliveredAt].filter(([id]) => id.startsWith("light-")).map(([, at]) => at));
    for (const worker of fleet) worker.close();
    expect(await Promise.all(fleet.map((w) => w.exited))).toEqual(fleet.map(() => 0));
    await queue.close();
    await control.close();
    return { share: (lightLast - started) / (end - started), drainSeconds: (end - started) / 1000 };
  }

  function file(id: string) {
    return { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } };
  }

  it.each([1, 3])("with %i worker process(es), the light users' writes are all delivered within the first fifth of the drain", async (processes) => {
    const { share, drainSeconds } = await lightShare(processes);
    console.log(`durable fairness, ${processes} process(es): light users' last delivery at ${(share * 100).toFixed(1)} % of a ${drainSeconds.toFixed(2)} s drain`);
    expect(share).toBeLessThanOrEqual(0.2);
    // Each write reached its own user's library once.
    expect(sandbox.library("lib-light-0")!.files.filter((f) => f.fileDescriptor.reference![0]!.startsWith("light-0-")).length).toBe(LIGHT_WRITES * (processes === 1 ? 1 : 2));
  }, 180_000);
});

describe.skipIf(!hasRedis)("what a worker holds does not undo fairness", () => {
  const suffix = uniqueSuffix();
  const redis = new Redis(REDIS_URL);
  afterAll(async () => dropKeysAndQuit(redis, `bull:held-fair-${suffix}*`));

  it("a held job of a user with nothing in flight takes the next free slot before held jobs of a user whose lane is full", async () => {
    // One delivery slot per user (perUserConcurrency 1), two in all; the worker holds 8 jobs.
    const harness = setup("v16", { queue: { concurrency: 2, perUserConcurrency: 1 } });
    await harness.authorize("heavy");
    await harness.authorize("light");
    harness.sandbox.faults.add({ operation: "write", latencyMs: 100 });
    const queueName = `held-fair-${suffix}`;
    const queue = new DurableWriteQueue({ connection: bullmqConnection(), queueName });
    for (let i = 0; i < 10; i += 1) await queue.enqueue("heavy", fileOf(`heavy-${i}`), { id: `heavy-${i}` });
    const order: string[] = [];
    harness.client.on("write:succeeded", ({ id }) => order.push(id));
    const worker = new WriteWorker({ client: harness.client, connection: bullmqConnection(), queueName, concurrency: 8 });
    await new Promise<void>((resolve) => harness.client.once("write:started", () => resolve()));
    // The worker now holds 8 of heavy's jobs; light's one write arrives.
    await queue.enqueue("light", fileOf("light-0"), { id: "light-0" });
    await queue.result("light", "light-0");
    const heavyBefore = order.indexOf("light-0");
    console.log(`held jobs: light's write delivered after ${heavyBefore} of heavy's (8 held when it arrived)`);
    // light is taken in the round after heavy-8 (its fair turn), then admitted at the next free slot; held in arrival order it would wait behind every held job of heavy
    expect(heavyBefore).toBeLessThanOrEqual(4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => queue.result("heavy", `heavy-${i}`)));
    await worker.close();
    await queue.close();
    await harness.client.close();
  }, 30_000);

  function fileOf(id: string) {
    return { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } };
  }
});
