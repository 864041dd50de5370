/**
 * Durable writes on a real Redis Cluster (issue 17): three masters the test
 * starts on loopback ports. With a hash-tagged prefix every key of the queue
 * (BullMQ's and this library's: quotas, fair shares, parked writes) shares
 * one slot and writes are delivered; an untagged prefix is refused with a
 * typed error naming the fix; a plain connection to one node of the cluster
 * is QUEUE_MISCONFIGURED, never QUEUE_UNAVAILABLE. Needs redis-server and
 * redis-cli (skipped with a printed reason otherwise; required under CI).
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableWriteQueue, QueueMisconfiguredError, WriteWorker } from "../../src/bullmq.js";
import { setup } from "../support/setup.js";
import { clusterToolsInstalled, startOwnCluster, type OwnCluster } from "./support/own-cluster.js";

const installed = clusterToolsInstalled();
if (!installed) {
  if (process.env.CI === "true") throw new Error("durable writes on Redis Cluster: redis-server and redis-cli are required under CI=true");
  console.log("[skipped] durable writes on Redis Cluster: redis-server or redis-cli is not installed");
}

function file(id: string) {
  return { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } };
}

describe.skipIf(!installed)("durable writes on a 3-node Redis Cluster", () => {
  let cluster: OwnCluster;
  const connections: Cluster[] = [];
  const connect = (): Cluster => {
    const connection = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })), { redisOptions: { maxRetriesPerRequest: null } });
    connection.on("error", () => undefined);
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    cluster = await startOwnCluster(3);
  }, 60_000);

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await cluster?.dispose();
  });

  it("with a hash-tagged prefix: fair, quota-checked, idempotent writes are delivered", async () => {
    const harness = setup("v16");
    const libraries = { alice: await harness.authorize("alice"), bob: await harness.authorize("bob") };
    const prefix = "{digime}";
    const queue = new DurableWriteQueue({ connection: connect(), queueName: "cluster-writes", prefix, maxQueuedPerUser: 20 });
    const ids = Array.from({ length: 30 }, (_, i) => ({ userId: i % 3 === 0 ? "bob" : "alice", id: `c-${i}` }));
    for (const { userId, id } of ids) await queue.enqueue(userId, file(id), { id });
    expect(await queue.enqueue("alice", file("c-1"), { id: "c-1" })).toEqual({ id: "c-1", existing: true });
    await expect(queue.enqueue("alice", file("over"), { id: "over" })).rejects.toMatchObject({ code: "QUEUE_FULL", userId: "alice" });
    const worker = new WriteWorker({ client: harness.client, connection: connect(), queueName: "cluster-writes", prefix });
    const receipts = await Promise.all(ids.map(({ userId, id }) => queue.result(userId, id)));
    expect(receipts.map((r) => r.userId)).toEqual(ids.map((w) => w.userId));
    const delivered = [...harness.sandbox.library(libraries.alice)!.files, ...harness.sandbox.library(libraries.bob)!.files].map((f) => f.fileDescriptor.reference![0]!);
    expect(delivered.sort()).toEqual(ids.map((w) => w.id).sort());
    expect(await queue.parkedUsers()).toEqual([]);
    // Known issue (reported): under heavy machine load, BullMQ's worker shutdown over a Cluster connection has
    // been seen not to return; the delivery above is what this test proves, so shutdown is bounded and said.
    const closed = await Promise.race([worker.close().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
    if (!closed) console.log("[known issue] WriteWorker.close() on Redis Cluster did not return within 10 s; its connections are dropped in afterAll");
    await queue.close();
    await harness.client.close();
  }, 60_000);

  it("an untagged prefix is refused at construction with a typed error naming the fix", () => {
    const connection = connect();
    expect(() => new DurableWriteQueue({ connection, queueName: "q", prefix: "digime" })).toThrow(QueueMisconfiguredError);
    expect(() => new DurableWriteQueue({ connection, queueName: "q" })).toThrow(/prefix: "\{digime\}"/);
  });

  it("a plain connection to one node of the cluster fails as QUEUE_MISCONFIGURED (MOVED or CROSSSLOT), never QUEUE_UNAVAILABLE", async () => {
    const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: cluster.ports[0]! }, queueName: "plain" });
    for (const id of ["p-1", "p-2", "p-3"]) {
      const error = await queue.enqueue("alice", file(id), { id }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueMisconfiguredError);
      expect(["MOVED", "CROSSSLOT"]).toContain((error as QueueMisconfiguredError).redisError);
    }
    await queue.close();
  });
});
