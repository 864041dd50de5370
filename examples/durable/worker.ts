/**
 * The worker of durable writes: takes jobs from Redis and delivers each
 * through a WriteClient (token keeping, refresh coordination across workers,
 * retries: all the client's). Start as many as you like, on any machine
 * that reaches Redis and the token store. Kill one with SIGKILL and the jobs
 * it was running run again elsewhere, their receipts flagged
 * possibleDuplicate. On SIGTERM or SIGINT it finishes the writes it is
 * running, leaves the rest queued, and exits 0.
 *
 * Run it after producer.ts, from this folder:  npx tsx worker.ts   (README.md)
 */
import { readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { WriteClient } from "digime-write-pipeline";
import { WriteWorker } from "digime-write-pipeline/bullmq";
import { RedisTokenStore } from "digime-write-pipeline/redis";
import { createHttpSdk } from "digime-write-pipeline/testing";
import { settings, type Standin } from "./settings.js";

const log = (event: string, fields: Record<string, unknown> = {}): void => void process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
const { redisUrl, queueName, standinFile, tokenKeyPrefix } = settings();
const standin = JSON.parse(await readFile(standinFile, "utf8")) as Standin;

const redis = new Redis(redisUrl);
const client = new WriteClient({
  // In production: init({ applicationId }) of @digime/digime-sdk-nodejs.
  sdk: createHttpSdk({ applicationId: standin.applicationId, baseUrl: standin.baseUrl, onboardUrl: standin.onboardUrl }),
  contractDetails: standin.contractDetails,
  redirectUri: "http://127.0.0.1:3000/digime/callback",
  tokenStore: new RedisTokenStore({ client: redis, keyPrefix: tokenKeyPrefix }), // shared by every worker: one refresh per token
});
let delivered = 0;
client.on("write:succeeded", () => void (delivered += 1));
client.on("reauthorization:required", ({ userId }) => log("reauthorization:required", { userId }));

const url = new URL(redisUrl);
const worker = new WriteWorker({
  client,
  connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
  queueName,
  tokenUpkeep: { everyMs: 3_600_000, withinMs: 7 * 86_400_000 }, // hourly, a week ahead: rarely-written users stay connected
});
await worker.waitUntilReady();
log("ready", { queueName });

const stop = async (signal: string): Promise<void> => {
  log("stopping", { signal });
  await worker.close(); // running writes finish; the rest stays queued for other workers
  const { unsavedTokens } = await client.close();
  await redis.quit();
  log("stopped", { delivered, unsavedTokens });
  process.exit(unsavedTokens.length === 0 ? 0 : 1);
};
process.once("SIGTERM", () => void stop("SIGTERM"));
process.once("SIGINT", () => void stop("SIGINT"));
