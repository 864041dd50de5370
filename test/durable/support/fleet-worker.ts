/**
 * A worker process of the durable fleet tests: a WriteClient on the sandbox
 * served over HTTP, a RedisTokenStore shared with the other workers, and a
 * WriteWorker with the options the test passes. JSON lines on stdout:
 * `{"ready":true}`, `{"succeeded":id}` after each delivery; a line `close` on
 * stdin closes it cleanly.
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { WriteClient } from "../../../src/index.js";
import { WriteWorker, type WriteWorkerOptions } from "../../../src/bullmq.js";
import { RedisTokenStore } from "../../../src/redis.js";
import { createHttpSdk } from "../../../src/testing/index.js";

export interface FleetWorkerConfig {
  applicationId: string;
  baseUrl: string;
  onboardUrl: string;
  contractDetails: { contractId: string; privateKey: string };
  redisUrl: string;
  tokenKeyPrefix: string;
  queueName: string;
  /** The client's delivery slots. */
  clientConcurrency: number;
  worker?: Pick<WriteWorkerOptions, "limiter" | "concurrency">;
}

const config = JSON.parse(process.argv[2] ?? "{}") as FleetWorkerConfig;
const say = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

const redis = new Redis(config.redisUrl);
const client = new WriteClient({
  sdk: createHttpSdk({ applicationId: config.applicationId, baseUrl: config.baseUrl, onboardUrl: config.onboardUrl }),
  contractDetails: config.contractDetails,
  redirectUri: "https://app.example/digime/callback",
  tokenStore: new RedisTokenStore({ client: redis, keyPrefix: config.tokenKeyPrefix }),
  retry: { minDelayMs: 20, maxDelayMs: 200 },
  queue: { concurrency: config.clientConcurrency },
});
client.on("write:succeeded", ({ id }) => say({ succeeded: id }));

const url = new URL(config.redisUrl);
const worker = new WriteWorker({ client, connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null }, queueName: config.queueName, ...config.worker });
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
