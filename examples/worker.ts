/**
 * A background worker: it takes a batch of writes, delivers them, and shuts
 * down gracefully. On SIGTERM (what Kubernetes, systemd and `docker stop`
 * send) it accepts no new work, lets the queue drain with
 * `close({ drain: true })`, reports, and exits 0 only when nothing was lost.
 * A second SIGTERM or SIGINT, or the grace period running out, stops at once
 * with `close({ drain: false })` and exit code 1.
 *
 * Run it:   npx tsx examples/worker.ts          (then press Ctrl-C, or `kill <pid>`)
 * Settings: WORKER_WRITES (default 60), WORKER_GRACE_MS (default 25000: stay
 *           under your orchestrator's grace period, 30 s on Kubernetes).
 *
 * Output is one JSON object per line, as a log shipper wants it.
 *
 * The sandbox stands in for digi.me and a MemoryTokenStore for your token
 * database; in production, users are authorized by your web app (see
 * examples/express) and the worker reads their tokens from the same store.
 * In your own code import from "digime-write-pipeline" instead of ../src.
 */
import { createHash } from "node:crypto";
import { MemoryTokenStore, WriteClient, type WriteFileMeta } from "../src/index.js";
import { createSandbox } from "../src/testing/index.js";

const WRITES = Number(process.env.WORKER_WRITES || 60);
const GRACE_MS = Number(process.env.WORKER_GRACE_MS || 25_000);
const USERS = ["ann", "ben"];

const log = (event: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
};

// --- set-up: a simulated digi.me with slow, sometimes failing uploads ---
const sandbox = createSandbox();
const tokenStore = new MemoryTokenStore();
const client = new WriteClient({
  sdk: sandbox.sdk("v16"),
  contractDetails: sandbox.contractDetails,
  redirectUri: "http://127.0.0.1:3000/digime/callback",
  tokenStore,
  retry: { minDelayMs: 50, maxDelayMs: 500 },
});
for (const userId of USERS) {
  const { url, sealed } = await client.beginAuthorization({ userId });
  await client.completeAuthorization(await sandbox.consent(url), { sealed });
}
sandbox.faults.add({ latencyMs: 80 });
sandbox.faults.add({ status: 503, probability: 0.1 });

client.on("write:retrying", ({ id, attempt, delayMs }) => log("write:retrying", { id, attempt, delayMs }));
client.on("token:refreshed", ({ userId, source }) => log("token:refreshed", { userId, source }));
client.on("reauthorization:required", ({ userId }) => log("reauthorization:required", { userId }));

// --- the batch: every write is accepted into the queue at once ---
const batch = Array.from({ length: WRITES }, (_, index) => {
  const fileData = Buffer.from(JSON.stringify({ job: index, at: Date.now() }));
  const fileName = `job-${String(index + 1).padStart(4, "0")}.json`;
  // The name again as a reference: SDKs 9+ never send fileName, so the check below finds files by reference.
  const meta: WriteFileMeta = { fileData, fileName, fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "worker" }], reference: [fileName] } };
  return { id: `job-${index + 1}`, userId: USERS[index % USERS.length]!, meta, sha256: createHash("sha256").update(fileData).digest("hex") };
});

let delivered = 0;
let failed = 0;
const settled = Promise.all(
  batch.map((job) =>
    client.write(job.userId, job.meta, { id: job.id }).then(
      (receipt) => {
        delivered += 1;
        log("write:delivered", { id: job.id, attempts: receipt.attempts });
      },
      (error: unknown) => {
        failed += 1;
        log("write:failed", { id: job.id, code: (error as { code?: string }).code, message: (error as Error).message });
      },
    ),
  ),
);
log("batch:accepted", { writes: batch.length, pid: process.pid });

// --- shutdown: drain on the first signal, stop hard on the second or after the grace period ---
let stopping: string | undefined;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping !== undefined) {
    log("shutdown:forced", { signal, queued: client.queued });
    void client.close({ drain: false });
    process.exit(1);
  }
  stopping = signal;
  log("shutdown:draining", { signal, queued: client.queued });
  setTimeout(() => stop("SIGTERM"), GRACE_MS).unref();
  void finish();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

let finished: Promise<void> | undefined;
function finish(): Promise<void> {
  finished ??= (async () => {
    const { unsavedTokens } = await client.close({ drain: true }); // delivers everything queued
    await settled;
    // Check every write against the sandbox: the file is in the user's library, byte for byte.
    const hashes = new Set(sandbox.libraries().flatMap((library) => library.files.map((f) => `${f.fileDescriptor.reference?.[0]}:${f.sha256}`)));
    const verified = batch.filter((job) => hashes.has(`${job.meta.fileName}:${job.sha256}`)).length;
    const lost = batch.length - verified;
    log("stopped", { signal: stopping ?? null, accepted: batch.length, delivered, failed, verified, lost, unsavedTokens });
    process.exitCode = lost === 0 && failed === 0 && unsavedTokens.length === 0 ? 0 : 1;
  })();
  return finished;
}

await settled;
await finish();
