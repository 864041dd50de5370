/**
 * Parked, not failed (issue 17): a durable write whose delivery needs the
 * user's new consent is kept, `result` pending, until the user authorizes
 * again through any client on the same token store; then it resumes by
 * itself and is delivered once. Past `parkForMs` it fails with the original
 * typed error. Needs Redis.
 */
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ReauthorizationRequiredError, WriteClient, type WriteFileMeta } from "../../src/index.js";
import { DurableWriteQueue, WriteWorker, type DurableParkedEvent, type DurableResumedEvent } from "../../src/bullmq.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI, setup, STATE_SECRET } from "../support/setup.js";

const hasRedis = await redisAvailable("durable writes: parked writes");
const connection = bullmqConnection();

function file(id: string): WriteFileMeta {
  return { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } };
}

/** Settled within `ms`? (a pending promise stays pending). */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([promise.then(() => true, () => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

describe.skipIf(!hasRedis)("durable writes that need a new consent are parked, not failed", () => {
  const suffix = uniqueSuffix();
  const redis = new Redis(REDIS_URL);
  afterAll(async () => dropKeysAndQuit(redis, `bull:parked-${suffix}-*`));

  it("40 writes of a revoked user wait while 40 of a healthy user are delivered; after the user consents again through a second client, all 40 are delivered, none twice", async () => {
    const harness = setup("v16");
    const aliceLibrary = await harness.authorize("alice");
    const bobLibrary = await harness.authorize("bob");
    // alice's tokens revoked at digi.me: her access and refresh tokens are refused from now on.
    harness.sandbox.expireAccessTokens({ libraryId: aliceLibrary });
    harness.sandbox.expireRefreshTokens({ libraryId: aliceLibrary });

    const queueName = `parked-${suffix}-consent`;
    const queue = new DurableWriteQueue({ connection, queueName });
    const parked: DurableParkedEvent[] = [];
    const resumed: DurableResumedEvent[] = [];
    const failed: string[] = [];
    queue.on("parked", (event) => parked.push(event));
    queue.on("resumed", (event) => resumed.push(event));
    queue.on("failed", ({ id }) => failed.push(id));
    await queue.listen();
    const worker = new WriteWorker({ client: harness.client, connection, queueName, resumeCheckMs: 100 });

    const aliceIds = Array.from({ length: 40 }, (_, i) => `alice-${i}`);
    const bobIds = Array.from({ length: 40 }, (_, i) => `bob-${i}`);
    for (let i = 0; i < 40; i += 1) {
      await queue.enqueue("alice", file(aliceIds[i]!), { id: aliceIds[i]! });
      await queue.enqueue("bob", file(bobIds[i]!), { id: bobIds[i]! });
    }
    const aliceResults = Promise.all(aliceIds.map((id) => queue.result("alice", id)));
    await Promise.all(bobIds.map((id) => queue.result("bob", id)));
    expect(harness.sandbox.library(bobLibrary)!.files).toHaveLength(40);

    await expect.poll(() => parked.length, { timeout: 10_000 }).toBe(40);
    expect(new Set(parked.map((e) => e.id))).toEqual(new Set(aliceIds));
    expect(parked.every((e) => e.userId === "alice" && e.until > Date.now())).toBe(true);
    const [waiting] = await queue.parkedUsers();
    expect(waiting).toMatchObject({ userId: "alice", count: 40 });
    expect(await settledWithin(aliceResults, 300)).toBe(false);
    expect(failed).toEqual([]);
    expect(harness.sandbox.library(aliceLibrary)!.files).toHaveLength(0);

    // alice consents again, through another client (another process would do the same) on the same token store.
    const other = new WriteClient({ sdk: harness.sandbox.sdk("v16"), contractDetails: harness.sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: harness.store, stateSecret: STATE_SECRET, now: harness.sandbox.now });
    const { url, sealed } = await other.beginAuthorization({ userId: "alice" });
    await other.completeAuthorization(await harness.sandbox.consent(url, { libraryId: aliceLibrary }), { sealed });
    const consented = performance.now();
    const firstResumedDelivery = new Promise<number>((resolve) => queue.once("delivered", () => resolve(performance.now())));

    const receipts = await aliceResults;
    console.log(`durable parked: consent to first resumed delivery ${((await firstResumedDelivery) - consented).toFixed(0)} ms`);
    expect(receipts.map((r) => r.userId)).toEqual(aliceIds.map(() => "alice"));
    const delivered = harness.sandbox.library(aliceLibrary)!.files.map((f) => f.fileDescriptor.reference![0]!);
    expect(delivered.sort()).toEqual([...aliceIds].sort()); // each once
    await expect.poll(() => resumed.length).toBe(40);
    expect(await queue.parkedUsers()).toEqual([]);
    expect(failed).toEqual([]);

    await worker.close();
    await queue.close();
    await Promise.all([harness.client.close(), other.close()]);
  }, 60_000);

  it("a parked write whose time is up fails with the original REAUTHORIZATION_REQUIRED", async () => {
    const harness = setup("v16");
    const library = await harness.authorize("carol");
    harness.sandbox.expireAccessTokens({ libraryId: library });
    harness.sandbox.expireRefreshTokens({ libraryId: library });
    const queueName = `parked-${suffix}-expiry`;
    const queue = new DurableWriteQueue({ connection, queueName });
    const worker = new WriteWorker({ client: harness.client, connection, queueName, parkForMs: 500 });
    const started = performance.now();
    await queue.enqueue("carol", file("carol-1"), { id: "carol-1" });
    const error = await queue.result("carol", "carol-1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect(error).toMatchObject({ code: "REAUTHORIZATION_REQUIRED", userId: "carol" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
    expect(await queue.parkedUsers()).toEqual([]);
    await worker.close();
    await queue.close();
    await harness.client.close();
  }, 30_000);

  it("parkForMs: 0 fails such a write at once, as before", async () => {
    const harness = setup("v16");
    const library = await harness.authorize("dave");
    harness.sandbox.expireAccessTokens({ libraryId: library });
    harness.sandbox.expireRefreshTokens({ libraryId: library });
    const queueName = `parked-${suffix}-off`;
    const queue = new DurableWriteQueue({ connection, queueName });
    const worker = new WriteWorker({ client: harness.client, connection, queueName, parkForMs: 0 });
    await queue.enqueue("dave", file("dave-1"), { id: "dave-1" });
    await expect(queue.result("dave", "dave-1")).rejects.toBeInstanceOf(ReauthorizationRequiredError);
    await worker.close();
    await queue.close();
    await harness.client.close();
  }, 30_000);
});
