/**
 * Durable writes as a user meets them in one process: a DurableWriteQueue
 * enqueues into Redis (BullMQ), a WriteWorker delivers through a WriteClient
 * on the sandbox, and result(id) reports. Needs Redis (skipped with a printed
 * reason when absent, required under CI=true).
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, ValidationError, type WriteFileMeta } from "../../src/index.js";
import {
  DirectoryPayloadStore,
  DurableWriteQueue,
  PayloadStoreRequiredError,
  WriteNotFoundError,
  WriteWorker,
  type DurableFailedEvent,
} from "../../src/bullmq.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { setup, type Harness } from "../support/setup.js";

const hasRedis = await redisAvailable("durable writes (BullMQ)");
const connection = bullmqConnection();

function file(name: string, bytes: Buffer | Uint8Array | Readable | (() => Readable) = Buffer.from(name)): WriteFileMeta {
  return { fileData: bytes, fileName: name, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [name] } };
}

describe.skipIf(!hasRedis)("durable writes on BullMQ, one process", () => {
  const queueName = `durable-${uniqueSuffix()}`;
  let harness: Harness;
  let library: string;
  let payloadDirectory: string;
  let payloadStore: DirectoryPayloadStore;
  let queue: DurableWriteQueue;
  let worker: WriteWorker;
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    harness = setup("v16");
    library = await harness.authorize("alice");
    payloadDirectory = await mkdtemp(nodePath.join(tmpdir(), "durable-payloads-"));
    payloadStore = new DirectoryPayloadStore({ directory: payloadDirectory });
    queue = new DurableWriteQueue({ connection, queueName, payloadStore, maxInlineBytes: 1024, outageBackoffMs: 10 });
    worker = new WriteWorker({ client: harness.client, connection, queueName, payloadStore });
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    await harness?.client.close();
    await dropKeysAndQuit(redis, `bull:${queueName}:*`);
    if (payloadDirectory !== undefined) await rm(payloadDirectory, { recursive: true, force: true });
  });

  const delivered = (name: string) => harness.sandbox.library(library)!.files.filter((f) => f.fileDescriptor.reference?.[0] === name);

  it("delivers an enqueued write and result(id) resolves with its receipt", async () => {
    const { id, existing } = await queue.enqueue("alice", file("first"), { id: "first" });
    expect({ id, existing }).toEqual({ id: "first", existing: false });
    const receipt = await queue.result("alice", id);
    expect(receipt).toMatchObject({ id: "first", userId: "alice", status: "delivered", possibleDuplicate: false });
    expect(delivered("first").map((f) => f.bytes.toString())).toEqual(["first"]);
    // Once delivered, the bytes kept inside the job are released.
    await expect.poll(async () => JSON.parse((await redis.hget(`bull:${queueName}:w-alice/first`, "data")) ?? "{}").payload).toEqual({ kind: "released" });
  });

  it("enqueueing the same id again returns the existing write and delivers it once", async () => {
    const first = await queue.enqueue("alice", file("twice"), { id: "order:1" });
    const second = await queue.enqueue("alice", file("twice"), { id: "order:1" });
    expect(second).toEqual({ id: "order:1", existing: true });
    await queue.result("alice", first.id);
    expect(await queue.enqueue("alice", file("twice"), { id: "order:1" })).toEqual({ id: "order:1", existing: true });
    expect(delivered("twice")).toHaveLength(1);
  });

  it("ids belong to their user: the same id from another user is that user's own write, never someone else's receipt", async () => {
    const bobLibrary = await harness.authorize("bob");
    expect(await queue.enqueue("alice", file("alice-shared"), { id: "shared-id" })).toEqual({ id: "shared-id", existing: false });
    expect(await queue.enqueue("bob", file("bob-shared"), { id: "shared-id" })).toEqual({ id: "shared-id", existing: false });
    const [aliceReceipt, bobReceipt] = await Promise.all([queue.result("alice", "shared-id"), queue.result("bob", "shared-id")]);
    expect(aliceReceipt.userId).toBe("alice");
    expect(bobReceipt.userId).toBe("bob");
    expect(delivered("alice-shared")).toHaveLength(1);
    expect(harness.sandbox.library(bobLibrary)!.files.map((f) => f.fileDescriptor.reference?.[0])).toEqual(["bob-shared"]);
    // A user who never enqueued an id finds nothing under it.
    await expect(queue.result("carol", "shared-id")).rejects.toBeInstanceOf(WriteNotFoundError);
  });

  it("concurrent enqueues of one id: the same user gets one job; two users get one each, with no cross-talk", async () => {
    const carolLibrary = await harness.authorize("carol");
    const daveLibrary = await harness.authorize("dave");
    const same = await Promise.all(Array.from({ length: 20 }, () => queue.enqueue("carol", file("carol-race"), { id: "race" })));
    expect(same.filter((r) => !r.existing)).toHaveLength(1);
    const crossed = await Promise.all(Array.from({ length: 20 }, (_, i) => queue.enqueue(i % 2 === 0 ? "carol" : "dave", file(i % 2 === 0 ? "carol-race" : "dave-race"), { id: "race-2" })));
    expect(crossed.filter((r) => !r.existing)).toHaveLength(2);
    const receipts = await Promise.all([queue.result("carol", "race"), queue.result("carol", "race-2"), queue.result("dave", "race-2")]);
    expect(receipts.map((r) => r.userId)).toEqual(["carol", "carol", "dave"]);
    expect(harness.sandbox.library(carolLibrary)!.files.map((f) => f.fileDescriptor.reference?.[0]).sort()).toEqual(["carol-race", "carol-race"]);
    expect(harness.sandbox.library(daveLibrary)!.files.map((f) => f.fileDescriptor.reference?.[0])).toEqual(["dave-race"]);
  });

  it("validates like client.write: the typed error names the field, nothing is enqueued", async () => {
    await expect(queue.enqueue("", file("x"), { id: "bad-user" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("userId") });
    const badMeta = { ...file("x"), fileDescriptor: { mimeType: "not a mime", accounts: [] } };
    const error = await queue.enqueue("alice", badMeta, { id: "bad-meta" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(["fileMeta.fileDescriptor.mimeType"]);
    await expect(queue.result("alice", "bad-meta")).rejects.toBeInstanceOf(WriteNotFoundError);
  });

  it("keeps small payloads in the job and larger ones and streams in the payload store, deleting them once delivered", async () => {
    const big = Buffer.alloc(4096, 7);
    const a = await queue.enqueue("alice", file("big", big));
    const b = await queue.enqueue("alice", file("streamed", () => Readable.from([Buffer.from("streamed bytes")])));
    await Promise.all([queue.result("alice", a.id), queue.result("alice", b.id)]);
    expect(delivered("big")[0]!.bytes.equals(big)).toBe(true);
    expect(delivered("streamed")[0]!.bytes.toString()).toBe("streamed bytes");
    await worker.close(); // the payload is released after completion: closing waits for that work to be scheduled
    worker = new WriteWorker({ client: harness.client, connection, queueName, payloadStore });
    await expect.poll(() => readdir(payloadDirectory)).toEqual([]);
  });

  it("refuses large payloads and streams without a payload store, saying how", async () => {
    const plain = new DurableWriteQueue({ connection, queueName, maxInlineBytes: 16 });
    try {
      const tooLarge = await plain.enqueue("alice", file("large", Buffer.alloc(17))).catch((e: unknown) => e);
      expect(tooLarge).toBeInstanceOf(PayloadStoreRequiredError);
      expect(tooLarge).toMatchObject({ code: "PAYLOAD_STORE_REQUIRED", reason: "too-large", size: 17, limit: 16 });
      expect((tooLarge as Error).message).toMatch(/payloadStore.*maxInlineBytes/);
      await expect(plain.enqueue("alice", file("stream", Readable.from(["x"])))).rejects.toMatchObject({ code: "PAYLOAD_STORE_REQUIRED", reason: "stream" });
    } finally {
      await plain.close();
    }
  });

  it("keeps no token in Redis: a job holds the user, the file's meta and the payload only", async () => {
    const { id } = await queue.enqueue("alice", file("secretless"));
    await queue.result("alice", id);
    const stored = await harness.store.get({ userId: "alice", contractId: harness.client.contractId });
    const everything = (await Promise.all((await redis.keys(`bull:${queueName}:*`)).map(async (k): Promise<unknown> => {
      const type = await redis.type(k);
      return type === "hash" ? redis.hgetall(k) : type === "stream" ? redis.xrange(k, "-", "+") : "";
    }))).map((v) => JSON.stringify(v)).join("\n");
    expect(everything).not.toContain(stored!.userAccessToken.accessToken.value);
    expect(everything).not.toContain(stored!.userAccessToken.refreshToken.value);
    expect(everything).not.toContain(harness.sandbox.contractDetails.privateKey.split("\n")[1]!);
    expect(inspect(queue)).toBe(`DurableWriteQueue { queueName: ${JSON.stringify(queueName)}, closed: false }`);
  });

  it("a write digi.me rejects fails at once, without further runs: result(id) and the failed event carry the typed error", async () => {
    const rule = harness.sandbox.faults.add({ status: 400, errorCode: "BadRequest", times: 1 });
    const failed: DurableFailedEvent[] = [];
    queue.on("failed", (event) => failed.push(event));
    await queue.listen();
    const { id } = await queue.enqueue("alice", file("rejected"));
    const error = await queue.result("alice", id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error, String(error)).toMatchObject({ code: "DELIVERY_REJECTED", attempts: 1 });
    expect(rule.hits).toBe(1);
    await expect.poll(() => failed.map((e) => [e.id, e.error.code])).toEqual([[id, "DELIVERY_REJECTED"]]);
    expect(delivered("rejected")).toEqual([]);
  });

  it("an outage longer than the client's retries: the run fails, BullMQ runs the job again later, and the client's retries are not multiplied", async () => {
    // The client makes 6 attempts per run (retries: 5); the outage outlasts the first run only.
    const outage = harness.sandbox.faults.add({ status: 503, times: 6 });
    const retrying: Array<{ id: string; reason: string }> = [];
    queue.on("retrying", ({ id, reason }) => retrying.push({ id, reason }));
    await queue.listen();
    const { id } = await queue.enqueue("alice", file("outage"));
    const receipt = await queue.result("alice", id);
    expect(outage.hits).toBe(6);
    expect(receipt).toMatchObject({ status: "delivered", attempts: 1, possibleDuplicate: false });
    expect(retrying).toContainEqual({ id, reason: "run-failed" });
    expect(delivered("outage")).toHaveLength(1);
  });

  it("after deliveries, failures and retries, Redis still holds no token, key or verifier", async () => {
    const stored = await harness.store.get({ userId: "alice", contractId: harness.client.contractId });
    const everything = (
      await Promise.all(
        (await redis.keys(`bull:${queueName}:*`)).map(async (k): Promise<unknown> => {
          const type = await redis.type(k);
          return type === "hash" ? redis.hgetall(k) : type === "stream" ? redis.xrange(k, "-", "+") : type === "zset" ? redis.zrange(k, "0", "-1") : type === "list" ? redis.lrange(k, "0", "-1") : "";
        }),
      )
    ).map((v) => JSON.stringify(v)).join("\n");
    expect(everything).toContain("DELIVERY_REJECTED"); // the failed write's reason is there…
    for (const secret of [stored!.userAccessToken.accessToken.value, stored!.userAccessToken.refreshToken.value, harness.sandbox.contractDetails.privateKey.split("\n")[1]!]) {
      expect(everything).not.toContain(secret); // …and no secret
    }
  });
});

describe("DirectoryPayloadStore keeps users' files private", () => {
  it("creates its directory 0700 and each payload 0600, even under a permissive umask", async () => {
    const parent = await mkdtemp(nodePath.join(tmpdir(), "payload-modes-"));
    const previous = process.umask(0o000);
    try {
      const directory = nodePath.join(parent, "nested", "payloads");
      const store = new DirectoryPayloadStore({ directory });
      await store.put("key-1", Buffer.from("a user's file"));
      await store.put("key-2", Readable.from([Buffer.from("streamed")]));
      expect((await stat(directory)).mode & 0o777).toBe(0o700);
      for (const name of await readdir(directory)) expect({ name, mode: (await stat(nodePath.join(directory, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    } finally {
      process.umask(previous);
      await rm(parent, { recursive: true, force: true });
    }
  });
});
