/**
 * Shutting a worker down (SIGTERM, a deploy): worker.close() lets the writes
 * it is running finish and leaves the rest queued in Redis, where the next
 * worker picks them up. Nothing fails, nothing is delivered twice. Needs Redis.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { setup } from "../support/setup.js";

const hasRedis = await redisAvailable("durable writes: worker.close()");

describe.skipIf(!hasRedis)("worker.close() on a busy queue", () => {
  const queueName = `close-${uniqueSuffix()}`;
  const heldQueueName = `${queueName}-held`;
  const redis = new Redis(REDIS_URL);
  const connection = bullmqConnection();

  afterAll(async () => {
    await dropKeysAndQuit(redis, `bull:${queueName}:*`, `bull:${heldQueueName}:*`);
  });

  it("finishes the running writes, leaves the rest queued, and the next worker delivers them once", async () => {
    const harness = setup("v16");
    const library = await harness.authorize("alice");
    harness.sandbox.faults.add({ operation: "write", latencyMs: 20 });
    const queue = new DurableWriteQueue({ connection, queueName });
    const ids = Array.from({ length: 30 }, (_, i) => `close-${i}`);
    for (const id of ids) await queue.enqueue("alice", { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } }, { id });

    const started = new Set<string>();
    harness.client.on("write:started", ({ id }) => started.add(id));
    const firstDelivered = new Promise<void>((resolve) => harness.client.once("write:succeeded", () => resolve()));
    const first = new WriteWorker({ client: harness.client, connection, queueName, concurrency: 4 });
    await firstDelivered;
    await first.close();

    const deliveredByFirst = harness.sandbox.library(library)!.files.map((f) => f.fileDescriptor.reference![0]!);
    expect(deliveredByFirst.sort()).toEqual([...started].sort()); // every write it started, it finished
    const inspector = new Queue(queueName, { connection });
    // Durable writes wait in BullMQ's prioritized set (their priority is their user's fair share).
    const counts = await inspector.getJobCounts("waiting", "prioritized", "active", "failed", "completed");
    await inspector.close();
    expect(counts).toMatchObject({ active: 0, failed: 0, completed: deliveredByFirst.length, prioritized: ids.length - deliveredByFirst.length });
    expect(counts.prioritized).toBeGreaterThan(0);

    const second = new WriteWorker({ client: harness.client, connection, queueName, concurrency: 4 });
    const receipts = await Promise.all(ids.map((id) => queue.result("alice", id)));
    expect(receipts.filter((r) => r.possibleDuplicate)).toEqual([]);
    const all = harness.sandbox.library(library)!.files.map((f) => f.fileDescriptor.reference![0]!);
    expect(all.sort()).toEqual([...ids].sort());
    await second.close();
    await queue.close();
    await harness.client.close();
  }, 60_000);

  it("by default holds twice the client's concurrency in jobs, while the client still delivers at most its concurrency at once", async () => {
    const harness = setup("v16", { queue: { concurrency: 3 } });
    await Promise.all(["alice", "bob", "carol", "dave"].map((u) => harness.authorize(u)));
    harness.sandbox.faults.add({ operation: "write", latencyMs: 300 });
    const queue = new DurableWriteQueue({ connection, queueName: heldQueueName });
    const ids = Array.from({ length: 20 }, (_, i) => `held-${i}`);
    for (const [i, id] of ids.entries()) await queue.enqueue(["alice", "bob", "carol", "dave"][i % 4]!, { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } }, { id });
    let running = 0;
    let mostRunning = 0;
    harness.client.on("write:started", () => void (mostRunning = Math.max(mostRunning, ++running)));
    harness.client.on("write:succeeded", () => void (running -= 1));
    const worker = new WriteWorker({ client: harness.client, connection, queueName: heldQueueName });
    expect(harness.client.concurrency).toBe(3);
    const inspector = new Queue(heldQueueName, { connection });
    // While the first deliveries wait on digi.me, the worker has taken 6 jobs: 3 delivering, 3 next in the client's queue.
    let active = 0;
    for (let tries = 0; tries < 100 && active < 6; tries += 1) {
      active = (await inspector.getJobCounts("active")).active ?? 0;
      if (active < 6) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(active).toBe(6);
    await Promise.all(ids.map((id, i) => queue.result(["alice", "bob", "carol", "dave"][i % 4]!, id)));
    expect(mostRunning).toBe(3);
    await worker.close();
    await inspector.close();
    await queue.close();
    await harness.client.close();
  }, 60_000);
});
