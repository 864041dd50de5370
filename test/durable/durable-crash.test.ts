/**
 * The user's situation from issue 12: one producer enqueues 500 writes for 5
 * users; 2 worker processes deliver them through the sandbox served over
 * HTTP; one worker is killed with SIGKILL mid-batch and a replacement
 * started. Every write must reach digi.me, every result(id) settle, and a
 * file may be there twice only if its job was running in the killed worker,
 * and then its receipt says possibleDuplicate. Needs Redis.
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { WriteClient, type WriteReceipt } from "../../src/index.js";
import { DurableWriteQueue } from "../../src/bullmq.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk, createSandbox } from "../../src/testing/index.js";
import type { DurableWorkerConfig } from "../support/durable-worker.js";
import { dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI } from "../support/setup.js";
import { startWorker, type WorkerProcess } from "../support/worker-process.js";
import { findSdks } from "../support/real-sdk.js";

const USERS = 5;
const WRITES = 500;
const CONCURRENCY = 16;
const hasRedis = await redisAvailable("durable writes: crash test");
// The workers speak HTTP to the sandbox through createHttpSdk (generation C's shape), or the real SDK 13+ when DIGIME_SDK_PATH names one.
const realSdkC = process.env.DIGIME_SDK_PATH === undefined ? undefined : findSdks().sdks.find((sdk) => sdk.generation === "C");

describe.skipIf(!hasRedis)("durable writes survive a worker killed with SIGKILL", () => {
  const suffix = uniqueSuffix();
  const queueName = `crash-${suffix}`;
  const tokenKeyPrefix = `test:durable:${suffix}:`;
  const redis = new Redis(REDIS_URL);
  const workers: WorkerProcess[] = [];
  const sandbox = createSandbox();

  afterAll(async () => {
    for (const worker of workers) worker.child.kill("SIGKILL");
    await sandbox.close();
    await dropKeysAndQuit(redis, `bull:${queueName}:*`, `${tokenKeyPrefix}*`);
  });

  it("delivers all 500; duplicates only among jobs the killed worker was running, each flagged possibleDuplicate", async () => {
    const server = await sandbox.listen();
    const endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
    const tokenStore = new RedisTokenStore({ client: redis, keyPrefix: tokenKeyPrefix });
    const parent = new WriteClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore });
    const users = Array.from({ length: USERS }, (_, u) => `user-${u}`);
    for (const userId of users) {
      const { url, sealed } = await parent.beginAuthorization({ userId });
      await parent.completeAuthorization(await sandbox.consent(url, { libraryId: `lib-${userId}` }), { sealed });
    }
    await parent.close();
    // Each delivery takes a little while, so the kill lands while the killed worker has jobs running.
    sandbox.faults.add({ operation: "write", latencyMs: 15 });

    const config: DurableWorkerConfig = {
      ...endpoints,
      contractDetails: sandbox.contractDetails,
      redisUrl: REDIS_URL,
      tokenKeyPrefix,
      queueName,
      concurrency: CONCURRENCY,
      lockDurationMs: 4_000,
      stalledIntervalMs: 1_000,
      ...(realSdkC === undefined ? {} : { sdkPath: realSdkC.source.replace(/^DIGIME_SDK_PATH /, "") }),
    };
    const victim = startWorker("./durable-worker.ts", config);
    const survivor = startWorker("./durable-worker.ts", config);
    workers.push(victim, survivor);
    await Promise.all([victim.waitFor((m) => m.ready === true), survivor.waitFor((m) => m.ready === true)]);

    const url = new URL(REDIS_URL);
    const queue = new DurableWriteQueue({ connection: { host: url.hostname, port: Number(url.port || 6379) }, queueName });
    const ids = Array.from({ length: WRITES }, (_, i) => `crash-${i}`);
    for (let i = 0; i < WRITES; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id, k) =>
          queue.enqueue(users[(i + k) % USERS]!, { fileData: Buffer.from(id), fileName: `${id}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: [id] } }, { id }),
        ),
      );
    }
    const results = Promise.allSettled(ids.map((id, i) => queue.result(users[i % USERS]!, id)));

    // Mid-batch: once the victim has delivered 40 files, it dies without a word.
    let delivered = 0;
    await victim.waitFor((m) => m.succeeded !== undefined && ++delivered >= 40);
    victim.child.kill("SIGKILL");
    await victim.exited;
    const startedByVictim = new Set(victim.messages.filter((m) => m.started !== undefined).map((m) => String(m.started)));
    const replacement = startWorker("./durable-worker.ts", config);
    workers.push(replacement);

    const settled = await results;
    const rejected = settled.flatMap((r, i) => (r.status === "rejected" ? [`${ids[i]}: ${String(r.reason)}`] : []));
    expect(rejected).toEqual([]);
    const receipts = new Map(settled.map((r, i) => [ids[i]!, (r as PromiseFulfilledResult<WriteReceipt>).value]));

    const copies = new Map<string, number>();
    for (const userId of users) {
      for (const file of sandbox.library(`lib-${userId}`)!.files) {
        const id = file.fileDescriptor.reference![0]!;
        copies.set(id, (copies.get(id) ?? 0) + 1);
      }
    }
    expect(ids.filter((id) => !copies.has(id))).toEqual([]);
    const duplicates = ids.filter((id) => copies.get(id)! > 1);
    // Jobs the victim held when it died: BullMQ found them stalled and ran them again.
    const stalled = new Set<string>();
    for (const [i, id] of ids.entries()) if (Number(await redis.hget(`bull:${queueName}:w-${users[i % USERS]!}/${id}`, "stc")) > 0) stalled.add(id);
    const flagged = ids.filter((id) => receipts.get(id)!.possibleDuplicate);

    console.log(`durable crash: ${JSON.stringify({ delivered: copies.size, duplicates: duplicates.length, recoveredFromKilledWorker: stalled.size, flagged: flagged.length, startedByVictim: startedByVictim.size })}`);
    expect(stalled.size).toBeGreaterThan(0);
    expect(stalled.size).toBeLessThanOrEqual(CONCURRENCY);
    expect(duplicates.filter((id) => !startedByVictim.has(id))).toEqual([]);
    expect(duplicates.filter((id) => !stalled.has(id))).toEqual([]);
    expect(duplicates.filter((id) => !receipts.get(id)!.possibleDuplicate)).toEqual([]);
    expect(flagged.sort()).toEqual([...stalled].sort());

    survivor.close();
    replacement.close();
    expect(await Promise.all([survivor.exited, replacement.exited])).toEqual([0, 0]);
    await queue.close();
  }, 120_000);
});
