/**
 * The producer of durable writes: a web app's side. It accepts writes into
 * Redis with DurableWriteQueue and returns at once; a separate worker process
 * (worker.ts) delivers them, even if workers die on the way.
 *
 * For the example it also stands in for the rest of the world: it runs the
 * sandbox (a simulated digi.me) over HTTP, authorizes two users into a
 * RedisTokenStore, and writes where to find both to DURABLE_STANDIN_FILE for
 * the worker. In production, digi.me is digi.me and your web app authorizes
 * users (see examples/express).
 *
 * Run it:  npx tsx examples/durable/producer.ts      (Redis at REDIS_URL, default redis://127.0.0.1:6379)
 * then:    npx tsx examples/durable/worker.ts        (in another terminal; Ctrl-C stops it gracefully)
 * Settings: DURABLE_WRITES (default 40), DURABLE_QUEUE (default "digime-writes-example").
 * In your own code import from "digime-write-pipeline" and "digime-write-pipeline/bullmq" instead of ../../src.
 */
import { writeFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { WriteClient } from "../../src/index.js";
import { DurableWriteQueue } from "../../src/bullmq.js";
import { RedisTokenStore } from "../../src/redis.js";
import { createHttpSdk, createSandbox } from "../../src/testing/index.js";
import { settings, type Standin } from "./settings.js";

const log = (event: string, fields: Record<string, unknown> = {}): void => void process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
const { redisUrl, queueName, standinFile, tokenKeyPrefix } = settings();
const WRITES = Number(process.env.DURABLE_WRITES || 40);
const USERS = ["ann", "ben"];

// --- stand-ins: digi.me (the sandbox over HTTP) and two users who consented ---
const sandbox = createSandbox();
const server = await sandbox.listen();
const redis = new Redis(redisUrl);
const endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
const authorizer = new WriteClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, redirectUri: "http://127.0.0.1:3000/digime/callback", tokenStore: new RedisTokenStore({ client: redis, keyPrefix: tokenKeyPrefix }) });
for (const userId of USERS) {
  const { url, sealed } = await authorizer.beginAuthorization({ userId });
  await authorizer.completeAuthorization(await sandbox.consent(url, { libraryId: `lib-${userId}` }), { sealed });
}
await authorizer.close();
sandbox.faults.add({ latencyMs: 20 });
const standin: Standin = { ...endpoints, contractDetails: sandbox.contractDetails };
await writeFile(standinFile, JSON.stringify(standin), { mode: 0o600 }); // holds the contract's private key: keep it private
log("ready", { standinFile, queueName });

// --- the producer proper: accept writes into Redis, then wait for their receipts ---
const url = new URL(redisUrl);
const queue = new DurableWriteQueue({ connection: { host: url.hostname, port: Number(url.port || 6379) }, queueName });
queue.on("retrying", ({ id, reason }) => log("retrying", { id, reason }));
await queue.listen();
const ids: string[] = [];
for (let i = 1; i <= WRITES; i += 1) {
  const id = `order-${i}`; // your own id: enqueueing it again never delivers twice
  const userId = USERS[i % USERS.length]!;
  await queue.enqueue(userId, { fileData: Buffer.from(JSON.stringify({ order: i })), fileName: `${id}.json`, fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }], reference: [id] } }, { id });
  ids.push(id);
}
log("enqueued", { writes: ids.length });

const outcomes = await Promise.allSettled(ids.map((id, i) => queue.result(USERS[(i + 1) % USERS.length]!, id)));
const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [{ id: ids[i], code: (o.reason as { code?: string }).code }] : []));
const possibleDuplicates = outcomes.filter((o) => o.status === "fulfilled" && o.value.possibleDuplicate).length;
const inLibraries = USERS.reduce((n, userId) => n + (sandbox.library(`lib-${userId}`)?.files.length ?? 0), 0);
log("done", { delivered: ids.length - failed.length, failed, possibleDuplicates, filesInLibraries: inLibraries });

await queue.close();
await redis.quit();
await sandbox.close();
process.exit(failed.length === 0 ? 0 : 1);
