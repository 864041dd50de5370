/**
 * Token upkeep scheduled by the BullMQ workers: however many workers declare
 * it, there is one schedule per contract, and each run refreshes each due
 * token once. Needs Redis.
 */
import { QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient } from "../../src/index.js";
import { WriteWorker, type TokenUpkeepResult } from "../../src/bullmq.js";
import { createSandbox } from "../../src/testing/index.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const hasRedis = await redisAvailable("durable writes: scheduled token upkeep");
const DAY = 86_400_000;

describe.skipIf(!hasRedis)("token upkeep scheduled on the BullMQ queue", () => {
  const queueName = `upkeep-${uniqueSuffix()}`;
  const redis = new Redis(REDIS_URL);
  const connection = bullmqConnection();

  afterAll(async () => {
    await dropKeysAndQuit(redis, `bull:${queueName}:*`);
  });

  it("two workers declaring it make one schedule, and a run refreshes each due token once", async () => {
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const sandbox = createSandbox({ now: () => clock, refreshTokenLifetimeSeconds: (30 * DAY) / 1000 });
    const store = new MemoryTokenStore({ now: () => clock });
    const client = () => new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: store, stateSecret: STATE_SECRET, now: () => clock });
    const [a, b] = [client(), client()];
    for (const userId of ["u1", "u2", "u3"]) {
      const { url: consentUrl, sealed } = await a.beginAuthorization({ userId });
      await a.completeAuthorization(await sandbox.consent(consentUrl), { sealed });
    }
    clock += 28 * DAY;
    sandbox.resetCounters();

    const events = new QueueEvents(queueName, { connection });
    await events.waitUntilReady();
    const firstRun = new Promise<TokenUpkeepResult>((resolve) => events.on("completed", ({ returnvalue }) => resolve(returnvalue as unknown as TokenUpkeepResult)));
    const tokenUpkeep = { everyMs: 3_600_000, withinMs: 7 * DAY };
    const workers = [new WriteWorker({ client: a, connection, queueName, tokenUpkeep }), new WriteWorker({ client: b, connection, queueName, tokenUpkeep })];
    await Promise.all(workers.map((w) => w.waitUntilReady()));

    const result = await firstRun;
    expect(result).toEqual({ checked: 3, refreshed: 3, refreshedElsewhere: 0, expired: 0, failed: 0 });
    expect(sandbox.counters.refreshes).toBe(3);
    expect(await redis.zcard(`bull:${queueName}:repeat`)).toBe(1);

    await Promise.all([...workers.map((w) => w.close()), events.close()]);
    await Promise.all([a.close(), b.close()]);
  });
});
