/**
 * What the durable queue refuses, and how fast: per-user and global quotas
 * (QUEUE_FULL naming the user, decided atomically), Redis down (at once,
 * QUEUE_UNAVAILABLE), and Redis replies no retry cures (QUEUE_MISCONFIGURED,
 * never QUEUE_UNAVAILABLE). Needs Redis; the killed-Redis case starts its own.
 */
import { performance } from "node:perf_hooks";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { QueueFullError, type WriteFileMeta } from "../../src/index.js";
import { DurableWriteQueue, QueueMisconfiguredError, QueueUnavailableError, WriteWorker } from "../../src/bullmq.js";
import { startOwnRedis, redisServerInstalled } from "../support/own-redis.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { setup } from "../support/setup.js";
import { RELEASE_SCRIPT } from "../../src/durable/fair-share.js";

const hasRedis = await redisAvailable("durable writes: bounds and Redis errors");
const connection = bullmqConnection();

function file(name: string): WriteFileMeta {
  return { fileData: Buffer.from(name), fileName: `${name}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] } };
}

async function elapsed<T>(work: () => Promise<T>): Promise<{ ms: number; outcome: T | unknown }> {
  const t0 = performance.now();
  const outcome = await work().catch((error: unknown) => error);
  return { ms: performance.now() - t0, outcome };
}

describe.skipIf(!hasRedis)("durable queue bounds", () => {
  const suffix = uniqueSuffix();
  const redis = new Redis(REDIS_URL);
  afterAll(async () => dropKeysAndQuit(redis, `bull:bounds-${suffix}-*`));

  it("refuses a user's write past maxQueuedPerUser with QUEUE_FULL naming the user; other users still enqueue; a delivered write gives its place back", async () => {
    const queueName = `bounds-${suffix}-user`;
    const queue = new DurableWriteQueue({ connection, queueName, maxQueuedPerUser: 3 });
    for (let i = 0; i < 3; i += 1) await queue.enqueue("alice", file(`a${i}`), { id: `a${i}` });
    const refused = await queue.enqueue("alice", file("a3"), { id: "a3" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refused).toMatchObject({ code: "QUEUE_FULL", reason: "per-user", userId: "alice", limit: 3 });
    expect((refused as Error).message).toContain('"alice"');
    // The same id again is the existing write, not a new one: never refused by the quota.
    expect(await queue.enqueue("alice", file("a0"), { id: "a0" })).toEqual({ id: "a0", existing: true });
    expect(await queue.enqueue("bob", file("b0"), { id: "b0" })).toEqual({ id: "b0", existing: false });

    const harness = setup("v16");
    await harness.authorize("alice");
    await harness.authorize("bob");
    const worker = new WriteWorker({ client: harness.client, connection, queueName });
    await Promise.all(["a0", "a1", "a2"].map((id) => queue.result("alice", id)));
    // The release that gives places back is batched after delivery: poll for it.
    await expect.poll(() => queue.enqueue("alice", file("a3"), { id: "a3" }).then((r) => r.existing, (e: unknown) => (e as Error).constructor.name), { timeout: 5_000 }).toBe(false);
    await worker.close();
    await harness.client.close();
    await queue.close();
  });

  it("each settled write gives its place back once, however the releases are batched: 30 writes of 3 users delivered leave every count at zero, and a second release changes nothing", async () => {
    const queueName = `bounds-${suffix}-release`;
    const queue = new DurableWriteQueue({ connection, queueName });
    const users = ["dana", "erin", "finn"];
    for (let i = 0; i < 30; i += 1) await queue.enqueue(users[i % 3]!, file(`r${i}`), { id: `r${i}` });
    const fairKey = `bull:${queueName}:dwp:fair`;
    expect(await redis.hget(fairKey, "total")).toBe("30");
    const harness = setup("v16");
    for (const user of users) await harness.authorize(user);
    const worker = new WriteWorker({ client: harness.client, connection, queueName });
    await Promise.all(Array.from({ length: 30 }, (_, i) => queue.result(users[i % 3]!, `r${i}`)));
    await expect.poll(() => redis.hgetall(fairKey), { timeout: 5_000 }).toEqual({ total: "0" });
    // Released again (a worker whose completion BullMQ recorded twice, say): the settled mark makes it a no-op.
    const jobKeys = [0, 1, 2, 3].map((i) => `bull:${queueName}:w-${users[i % 3]}/r${i}`);
    const released = JSON.parse((await redis.hget(jobKeys[0]!, "data"))!) as { payload: unknown };
    expect(released.payload).toEqual({ kind: "released" });
    await redis.eval(RELEASE_SCRIPT, jobKeys.length + 1, ...jobKeys, fairKey, ...jobKeys.flatMap((_, i) => ["{}", users[i % 3]!]));
    expect(await redis.hgetall(fairKey)).toEqual({ total: "0" });
    // A job removed meanwhile (its retention ended): nothing is made in its place, nothing given back.
    const gone = `bull:${queueName}:w-dana/gone`;
    await redis.eval(RELEASE_SCRIPT, 2, gone, fairKey, "{}", "dana");
    expect(await redis.exists(gone)).toBe(0);
    expect(await redis.hgetall(fairKey)).toEqual({ total: "0" });
    await worker.close();
    await harness.client.close();
    await queue.close();
  });

  it("64 enqueues at once, from a queue not yet connected and then from a connected one, add no listener per call (no MaxListenersExceededWarning)", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      const queue = new DurableWriteQueue({ connection, queueName: `bounds-${suffix}-listeners` });
      for (const round of [0, 1]) await Promise.all(Array.from({ length: 64 }, (_, i) => queue.enqueue(`user-${i % 7}`, file(`l${round}-${i}`), { id: `l${round}-${i}` })));
      await queue.close();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  });

  it("concurrent enqueues cannot overshoot the quota: of 20 at once with maxQueuedPerUser 5, exactly 5 are accepted", async () => {
    const queue = new DurableWriteQueue({ connection, queueName: `bounds-${suffix}-race`, maxQueuedPerUser: 5 });
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => queue.enqueue("carol", file(`c${i}`), { id: `c${i}` })));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(5);
    expect(outcomes.filter((o) => o.status === "rejected").every((o) => (o as PromiseRejectedResult).reason instanceof QueueFullError)).toBe(true);
    await queue.close();
  });

  it("refuses past the global maxQueued with QUEUE_FULL (reason total)", async () => {
    const queue = new DurableWriteQueue({ connection, queueName: `bounds-${suffix}-total`, maxQueued: 4 });
    for (let i = 0; i < 4; i += 1) await queue.enqueue(`user-${i}`, file(`t${i}`), { id: `t${i}` });
    await expect(queue.enqueue("user-9", file("t9"), { id: "t9" })).rejects.toMatchObject({ code: "QUEUE_FULL", reason: "total", limit: 4 });
    await queue.close();
  });

  it("a reply no retry cures (WRONGTYPE) is QUEUE_MISCONFIGURED naming the fix, never QUEUE_UNAVAILABLE", async () => {
    const queueName = `bounds-${suffix}-wrongtype`;
    await redis.set(`bull:${queueName}:dwp:fair`, "not a hash");
    const queue = new DurableWriteQueue({ connection, queueName });
    const error = await queue.enqueue("alice", file("x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueMisconfiguredError);
    expect(error).toMatchObject({ code: "QUEUE_MISCONFIGURED", redisError: "WRONGTYPE", retryable: false });
    expect((error as Error).message).toMatch(/queueName or prefix of its own/);
    await queue.close();
  });

  it("refused credentials are QUEUE_MISCONFIGURED within a second, not QUEUE_UNAVAILABLE", async () => {
    const queue = new DurableWriteQueue({ connection: { ...connection, username: `nobody-${suffix}`, password: "wrong" }, queueName: `bounds-${suffix}-auth` });
    const { ms, outcome } = await elapsed(() => queue.enqueue("alice", file("x")));
    expect(outcome).toBeInstanceOf(QueueMisconfiguredError);
    expect(outcome).toMatchObject({ redisError: "WRONGPASS" });
    expect(ms).toBeLessThan(1_500);
    await queue.close();
  });

  it("an untagged prefix on Redis Cluster is refused at construction, naming the fix", () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
    for (const make of [
      () => new DurableWriteQueue({ connection: cluster, queueName: "q" }),
      () => new DurableWriteQueue({ connection: cluster, queueName: "q", prefix: "digime" }),
      () => new WriteWorker({ client: setup("v16").client, connection: cluster, queueName: "q" }),
    ]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(QueueMisconfiguredError);
      expect(error).toMatchObject({ redisError: "CLUSTER_PREFIX" });
      expect((error as Error).message).toContain('prefix: "{digime}"');
    }
    cluster.disconnect();
  });
});

describe("enqueue with Redis down", () => {
  it("rejects with QUEUE_UNAVAILABLE within 1 s when Redis is unreachable from the start", async () => {
    const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: 1 }, queueName: "down" });
    const { ms, outcome } = await elapsed(() => queue.enqueue("alice", file("x")));
    expect(outcome).toBeInstanceOf(QueueUnavailableError);
    expect(ms).toBeLessThan(1_000);
    await queue.close();
  });

  it.skipIf(!redisServerInstalled())("rejects with QUEUE_UNAVAILABLE within 1 s once a connected Redis has gone", async () => {
    const own = await startOwnRedis();
    try {
      const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: own.port }, queueName: "gone" });
      await queue.enqueue("alice", file("before"), { id: "before" });
      await own.kill();
      for (const id of ["during-1", "during-2"]) {
        const { ms, outcome } = await elapsed(() => queue.enqueue("alice", file(id), { id }));
        expect(outcome).toBeInstanceOf(QueueUnavailableError);
        expect(ms).toBeLessThan(1_000);
      }
      await queue.close();
    } finally {
      await own.dispose();
    }
  });
});
