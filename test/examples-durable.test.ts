/**
 * examples/durable runs as documented: the producer and the worker are two
 * processes that meet only through Redis (and the stand-in digi.me); every
 * write is delivered, and the worker stops cleanly on SIGTERM. Needs Redis.
 */
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { REDIS_URL, redisAvailable, uniqueSuffix } from "./support/servers.js";
import { startWorker, type WorkerProcess } from "./support/worker-process.js";

const hasRedis = await redisAvailable("examples/durable");

describe.skipIf(!hasRedis)("examples/durable: a producer and a worker as two processes", () => {
  const queue = `example-${uniqueSuffix()}`;
  const standinFile = nodePath.join(tmpdir(), `${queue}.json`);
  // The example imports the package by name: its tsconfig maps the name to this repository's sources (as `cd examples/durable` would).
  const env = { REDIS_URL, DURABLE_QUEUE: queue, DURABLE_STANDIN_FILE: standinFile, DURABLE_WRITES: "30", TSX_TSCONFIG_PATH: "examples/durable/tsconfig.json" };
  const processes: WorkerProcess[] = [];
  const redis = new Redis(REDIS_URL);

  afterAll(async () => {
    for (const p of processes) p.child.kill("SIGKILL");
    const keys = [...(await redis.keys(`bull:${queue}:*`)), ...(await redis.keys(`${queue}:*`))];
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await rm(standinFile, { force: true });
  });

  it("delivers every write the producer enqueued, then the worker stops on SIGTERM with exit code 0", async () => {
    const producer = startWorker("../../examples/durable/producer.ts", {}, env);
    processes.push(producer);
    await producer.waitFor((m) => m.event === "ready");
    const worker = startWorker("../../examples/durable/worker.ts", {}, env);
    processes.push(worker);

    const done = await producer.waitFor((m) => m.event === "done");
    expect(done).toEqual({ event: "done", delivered: 30, failed: [], possibleDuplicates: 0, filesInLibraries: 30 });
    expect(await producer.exited).toBe(0);

    await worker.waitFor((m) => m.event === "ready");
    worker.child.kill("SIGTERM");
    expect(await worker.waitFor((m) => m.event === "stopped")).toEqual({ event: "stopped", delivered: 30, unsavedTokens: [] });
    expect(await worker.exited).toBe(0);
  }, 60_000);
});
