/**
 * Redis goes away mid-batch and comes back: nothing accepted is lost, and
 * while it is down enqueue fails with a typed error, never silently. The
 * test runs its own redis-server with AOF (fsync always) on another loopback
 * port, kills it with SIGKILL and starts it again.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { WriteReceipt } from "../../src/index.js";
import { DurableWriteQueue, QueueUnavailableError, WriteWorker } from "../../src/bullmq.js";
import { redisServerInstalled, startOwnRedis, type OwnRedis } from "../support/own-redis.js";
import { setup } from "../support/setup.js";

const installed = redisServerInstalled();
if (!installed) {
  if (process.env.CI === "true") throw new Error("durable writes: Redis restart: redis-server is not installed; CI=true requires it");
  console.log("[skipped] durable writes: Redis restart: redis-server is not installed");
}

const WRITES = 120;

describe.skipIf(!installed)("durable writes across a Redis restart (own redis-server, AOF)", () => {
  let redis: OwnRedis | undefined;
  afterAll(async () => {
    await redis?.dispose();
  });

  it("delivers every accepted write once Redis is back; enqueue while it is down rejects with QUEUE_UNAVAILABLE", async () => {
    redis = await startOwnRedis();
    const connection = { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null };
    const harness = setup("v16");
    const library = await harness.authorize("alice");
    harness.sandbox.faults.add({ operation: "write", latencyMs: 10 });
    const queueName = "restart";
    const queue = new DurableWriteQueue({ connection, queueName, enqueueTimeoutMs: 1_000, outageBackoffMs: 50 });

    let delivered = 0;
    const twentyDelivered = new Promise<void>((resolve) => harness.client.on("write:succeeded", () => void (++delivered === 20 && resolve())));
    const ids = Array.from({ length: WRITES }, (_, i) => `restart-${i}`);
    const meta = (id: string) => ({ fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } });
    for (const id of ids) await queue.enqueue("alice", meta(id), { id });
    const worker = new WriteWorker({ client: harness.client, connection, queueName, concurrency: 8, lockDurationMs: 3_000, stalledIntervalMs: 1_000 });
    await queue.listen();

    // Mid-batch: after 20 deliveries, Redis dies.
    await twentyDelivered;
    await redis.kill();

    const refused = await queue.enqueue("alice", meta("during-outage"), { id: "during-outage" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueUnavailableError);
    expect(refused).toMatchObject({ code: "QUEUE_UNAVAILABLE", retryable: true });

    await redis.start();
    // The refused write is simply enqueued again, with the same id, once Redis answers.
    await queue.enqueue("alice", meta("during-outage"), { id: "during-outage" });
    const all = [...ids, "during-outage"];
    const settled = await Promise.allSettled(all.map((id) => queue.result("alice", id)));
    expect(settled.flatMap((r, i) => (r.status === "rejected" ? [`${all[i]}: ${String(r.reason)}`] : []))).toEqual([]);

    const copies = new Map<string, number>();
    for (const file of harness.sandbox.library(library)!.files) {
      const id = file.fileDescriptor.reference![0]!;
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
    expect(all.filter((id) => !copies.has(id))).toEqual([]);
    const receipts = new Map(settled.map((r, i) => [all[i]!, (r as PromiseFulfilledResult<WriteReceipt>).value]));
    const unflaggedDuplicates = all.filter((id) => copies.get(id)! > 1 && !receipts.get(id)!.possibleDuplicate);
    expect(unflaggedDuplicates).toEqual([]);
    console.log(`durable redis restart: ${JSON.stringify({ delivered: copies.size, duplicates: all.filter((id) => copies.get(id)! > 1).length, flagged: [...receipts.values()].filter((r) => r.possibleDuplicate).length })}`);

    await worker.close();
    await queue.close();
    await harness.client.close();
  }, 40_000);
});
