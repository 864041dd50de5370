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
 * Run it from this folder:  npx tsx producer.ts   (Redis at REDIS_URL, default redis://127.0.0.1:6379)
 * then, in another terminal: npx tsx worker.ts     (Ctrl-C stops it gracefully); see README.md.
 * Settings: DURABLE_WRITES (default 40), DURABLE_QUEUE (default "digime-writes-example").
 */
import { writeFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { WriteClient } from "digime-write-pipeline";
import { DurableWriteQueue } from "digime-write-pipeline/bullmq";
import { RedisTokenStore } from "digime-write-pipeline/redis";
import { createHttpSdk, createSandbox } from "digime-write-pipeline/testing";
import { createProgress } from "../support/progress.js";
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
const progress = createProgress(process.stderr);
let delivered = 0;
let retrying = 0;
let parked = 0;
const counts = () => ({ settled: delivered, total: WRITES, detail: `${delivered} delivered · ${retrying} retrying · ${parked} waiting for a new consent` });
queue.on("delivered", () => {
  delivered += 1;
  progress.update(counts());
});
queue.on("retrying", ({ id, reason }) => {
  retrying += 1;
  progress.log(`retrying ${id} (${reason})`);
});
queue.on("parked", ({ userId }) => {
  parked += 1;
  progress.log(`parked: ${userId} must authorize again; their writes wait for it`);
});
queue.on("resumed", () => void (parked -= 1));
await queue.listen();
const writes: Array<{ userId: string; id: string }> = [];
for (let i = 1; i <= WRITES; i += 1) {
  const id = `order-${i}`; // your own id: enqueueing it again for the same user never delivers twice
  const userId = USERS[i % USERS.length]!;
  await queue.enqueue(userId, { fileData: Buffer.from(JSON.stringify({ order: i })), fileName: `${id}.json`, fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }], reference: [id] } }, { id });
  writes.push({ userId, id });
}
log("enqueued", { writes: writes.length });
progress.log(`${writes.length} writes enqueued in Redis: start the worker (npx tsx worker.ts) to deliver them`);
progress.update(counts());

const outcomes = await Promise.allSettled(writes.map(({ userId, id }) => queue.result(userId, id)));
progress.done(counts());
const ids = writes.map((w) => w.id);
const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [{ id: ids[i], code: (o.reason as { code?: string }).code }] : []));
const possibleDuplicates = outcomes.filter((o) => o.status === "fulfilled" && o.value.possibleDuplicate).length;
const inLibraries = USERS.reduce((n, userId) => n + (sandbox.library(`lib-${userId}`)?.files.length ?? 0), 0);
log("done", { delivered: ids.length - failed.length, failed, possibleDuplicates, filesInLibraries: inLibraries });

await queue.close();
await redis.quit();
await sandbox.close();
process.exit(failed.length === 0 ? 0 : 1);
