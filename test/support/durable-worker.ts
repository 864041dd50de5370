/**
 * A worker process of the durable-writes tests: a WriteClient on the sandbox
 * served over HTTP (createHttpSdk, or the real SDK of generation C when
 * `sdkPath` names a build), a RedisTokenStore shared with the other workers,
 * and a WriteWorker on the queue. It speaks in JSON lines on stdout:
 * `{"ready":true}`, `{"started":id}` before each SDK call, `{"succeeded":id}`
 * after each delivery; a line `close` on stdin closes it cleanly.
 */
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { WriteClient, type DigimeSdk } from "../../src/index.js";
import { WriteWorker } from "../../src/bullmq.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk } from "../../src/testing/index.js";

export interface DurableWorkerConfig {
  applicationId: string;
  baseUrl: string;
  onboardUrl: string;
  contractDetails: { contractId: string; privateKey: string };
  redisUrl: string;
  tokenKeyPrefix: string;
  queueName: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  sdkPath?: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as DurableWorkerConfig;
const say = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

function openSdk(): DigimeSdk {
  const endpoints = { applicationId: config.applicationId, baseUrl: config.baseUrl, onboardUrl: config.onboardUrl };
  if (config.sdkPath === undefined) return createHttpSdk(endpoints);
  const { init } = createRequire(import.meta.url)(config.sdkPath) as { init: (c: typeof endpoints) => DigimeSdk };
  return init(endpoints);
}

const redis = new Redis(config.redisUrl);
const client = new WriteClient({
  sdk: openSdk(),
  contractDetails: config.contractDetails,
  redirectUri: "https://app.example/digime/callback",
  tokenStore: new RedisTokenStore({ client: redis, keyPrefix: config.tokenKeyPrefix }),
  retry: { minDelayMs: 20, maxDelayMs: 200 },
});
client.on("write:started", ({ id }) => say({ started: id }));
client.on("write:succeeded", ({ id }) => say({ succeeded: id }));

const url = new URL(config.redisUrl);
const worker = new WriteWorker({
  client,
  connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
  queueName: config.queueName,
  concurrency: config.concurrency,
  lockDurationMs: config.lockDurationMs,
  stalledIntervalMs: config.stalledIntervalMs,
});
await worker.waitUntilReady();
say({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== "close") continue;
  await worker.close();
  await client.close();
  await redis.quit();
  say({ closed: true });
  process.exit(0);
}
