/**
 * `npm run demo`: the whole write flow against the sandbox, with the
 * embedded default token store.
 *
 * 1. Three users authorize (the sandbox plays their consent); their tokens go
 *    into a FileTokenStore under `.demo-data/`.
 * 2. About a hundred files of mixed sizes (a few bytes to a few MB) are
 *    written while the sandbox injects faults (5xx, 429 with Retry-After,
 *    connection resets, failing refreshes) and access tokens expire every
 *    few seconds.
 * 3. Every file is checked in the users' sandbox libraries; the summary says
 *    what was delivered, retried, refreshed and failed. Exit code 1 if any
 *    file was lost.
 *
 * Run it again: the stored tokens are reused, nobody authorizes twice. The
 * sandbox is in-process and new each run, so the demo saves its state
 * (`sandbox.exportState()`) beside the tokens and restores it next time
 * (`createSandbox({ state })`): the same contract, libraries and token pairs.
 *
 * Environment: DEMO_DATA_DIR (default `.demo-data`), DEMO_FILES (default 100).
 *
 * In your own app, import from "digime-write-pipeline" and
 * "digime-write-pipeline/testing" instead of ../src.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { DeliveryError, FileTokenStore, WriteClient, type WriteFileMeta, type WriteReceipt } from "../src/index.js";
import { createSandbox, type Sandbox, type SandboxSnapshot } from "../src/testing/index.js";
import { createProgress } from "./support/progress.js";

const USERS = ["alice", "bob", "carol"] as const;
const FILE_COUNT = Number(process.env.DEMO_FILES || 100);
const DATA_DIR = path.resolve(process.env.DEMO_DATA_DIR || ".demo-data");
const TOKENS_PATH = path.join(DATA_DIR, "tokens.json");
const SANDBOX_PATH = path.join(DATA_DIR, "sandbox-state.json");
const SUMMARY_PATH = path.join(DATA_DIR, "last-run.json");
/**
 * Access tokens live 2 s, so each user's token is due for a refresh several times during the run
 * (the writes take a few seconds). The client refreshes a token 1 s before it expires
 * (`refreshWindowMs`), single-flight per user, and stores the new one before the write that needed
 * it goes out.
 */
const ACCESS_TOKEN_LIFETIME_SECONDS = 2;

interface PlannedFile {
  userId: (typeof USERS)[number];
  meta: WriteFileMeta;
  size: number;
  sha256: string;
}

const started = Date.now();
const progress = createProgress();
const say = (line = ""): void => progress.log(line);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<number> {
  await mkdir(DATA_DIR, { recursive: true, mode: 0o700 });
  say(`digime-write-pipeline demo: ${USERS.length} users, ${FILE_COUNT} files, a simulated digi.me with faults`);
  say(`  data folder  ${DATA_DIR}`);

  // --- a simulated digi.me, restored from the last run when there is one ---
  const saved = await loadSandboxState();
  const sandbox = createSandbox({
    ...(saved === undefined ? {} : { state: saved }),
    accessTokenLifetimeSeconds: ACCESS_TOKEN_LIFETIME_SECONDS,
    keepFileBytes: false, // count and hash uploads; the demo checks hashes
  });
  if (saved === undefined && existsSync(TOKENS_PATH)) {
    // Tokens without the sandbox that issued them can never work again: set them aside.
    const aside = `${TOKENS_PATH}.orphaned-${Date.now()}`;
    await rename(TOKENS_PATH, aside);
    say(`  note         no saved sandbox state; old tokens moved to ${path.basename(aside)}`);
  }
  const saveSandbox = serialSaver(sandbox);

  // --- the client, as an app would create it once at start-up ---
  const tokenStore = new FileTokenStore({ path: TOKENS_PATH });
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: "http://127.0.0.1:3000/digime/callback",
    tokenStore,
    stateSecret: randomBytes(32).toString("base64url"),
    refreshWindowMs: 1000,
    queue: { concurrency: 6 },
    retry: { retries: 8, minDelayMs: 100, maxDelayMs: 2000 },
  });

  // --- 1. authorize, or reuse what is stored ---
  say("");
  say("1. Authorization");
  let authorized = 0;
  let reused = 0;
  for (const userId of USERS) {
    const key = { userId, contractId: client.contractId };
    const stored = await tokenStore.get(key);
    const status = await client.authorizationStatus(userId);
    const known = stored !== undefined && sandbox.libraryIdOf(stored.userAccessToken.accessToken.value) !== undefined;
    if (status.status === "authorized" && known) {
      reused += 1;
      say(`  ${userId.padEnd(6)} reusing the stored token (version ${stored.version}, saved ${new Date(stored.updatedAt).toISOString()})`);
      continue;
    }
    if (stored !== undefined && !known) await tokenStore.delete(key); // issued by a digi.me that no longer exists
    const { url, sealed } = await client.beginAuthorization({ userId });
    const callbackUrl = await sandbox.consent(url); // stands in for the user's browser at digi.me
    await client.completeAuthorization(callbackUrl, { sealed });
    authorized += 1;
    say(`  ${userId.padEnd(6)} ${status.status === "not-authorized" ? "authorized" : "authorized again"}: consent given, token stored`);
  }
  await saveSandbox();

  // --- 2. write, with faults and expiring tokens ---
  sandbox.faults.add({ latencyMs: 60 }); // every upload takes a moment
  sandbox.faults.add({ status: 503, probability: 0.07 });
  sandbox.faults.add({ status: 502, probability: 0.03 });
  sandbox.faults.add({ status: 429, retryAfterSeconds: 1, probability: 0.04 });
  sandbox.faults.add({ network: "ECONNRESET", probability: 0.04 });
  sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, probability: 0.02, times: 2 }); // digi.me kept the file, the reply was lost
  sandbox.faults.add({ operation: "refresh", status: 503, probability: 0.15 });

  const files = planFiles(FILE_COUNT);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  say("");
  say(`2. Writing ${files.length} files (${megabytes(totalBytes)}) with faults injected and ${ACCESS_TOKEN_LIFETIME_SECONDS}-second access tokens`);

  const tally = { delivered: 0, failed: 0, retries: 0, byCause: new Map<string, number>(), proactive: 0, inWrite: 0, duplicates: 0 };
  const detail = (): string => `${tally.delivered} delivered · ${tally.retries} retries · ${tally.proactive + tally.inWrite} refreshes · ${tally.failed} failed · ${seconds(Date.now() - started)}`;
  const update = (): void => progress.update({ settled: tally.delivered + tally.failed, total: files.length, detail: detail() });

  client.on("write:retrying", ({ userId, fileName, attempt, delayMs, error }) => {
    tally.retries += 1;
    const cause = causeOf(error);
    tally.byCause.set(cause, (tally.byCause.get(cause) ?? 0) + 1);
    say(`  retry    ${`${userId}/${fileName}`.padEnd(26)} attempt ${attempt} met ${cause}; next in ${delayMs} ms`);
    update();
  });
  client.on("token:refreshed", ({ userId, source, persisted }) => {
    if (source === "proactive") tally.proactive += 1;
    else tally.inWrite += 1;
    say(`  refresh  ${userId.padEnd(26)} new token ${source === "proactive" ? "before expiry" : "inside a write"}, ${persisted ? "stored" : "NOT yet stored"}`);
    void saveSandbox();
    update();
  });
  client.on("token:persist-failed", ({ userId, error }) => say(`  warning  token of ${userId} not stored yet: ${error.message}`));
  client.on("reauthorization:required", ({ userId, reason }) => say(`  warning  ${userId} must authorize again (${reason})`));

  const receipts = new Map<PlannedFile, WriteReceipt>();
  const failures: string[] = [];
  await Promise.all(
    files.map((file) =>
      client.write(file.userId, file.meta).then(
        (receipt) => {
          receipts.set(file, receipt);
          tally.delivered += 1;
          if (receipt.possibleDuplicate) tally.duplicates += 1;
          update();
        },
        (error: unknown) => {
          tally.failed += 1;
          failures.push(`${file.userId}/${file.meta.fileName}: ${error instanceof Error ? error.message : String(error)}`);
          update();
        },
      ),
    ),
  );
  const { unsavedTokens } = await client.close();
  progress.done({ settled: tally.delivered + tally.failed, total: files.length, detail: detail() });
  await saveSandbox();

  // --- 3. check every file arrived, byte for byte ---
  const libraryOf = new Map<string, string | undefined>();
  for (const userId of USERS) {
    const stored = await tokenStore.get({ userId, contractId: client.contractId });
    libraryOf.set(userId, stored === undefined ? undefined : sandbox.libraryIdOf(stored.userAccessToken.accessToken.value));
  }
  const missing = files.filter((file) => {
    const library = sandbox.library(libraryOf.get(file.userId) ?? "");
    return !library?.files.some((f) => nameOf(f) === file.meta.fileName && f.sha256 === file.sha256 && f.size === file.size);
  });
  const duplicates = files.filter((file) => (sandbox.library(libraryOf.get(file.userId) ?? "")?.files.filter((f) => nameOf(f) === file.meta.fileName).length ?? 0) > 1).length;
  const lost = new Set([...missing.map((f) => `${f.userId}/${f.meta.fileName}`), ...failures.map((f) => f.split(":")[0]!)]).size;
  const durationMs = Date.now() - started;
  const causes = [...tally.byCause].map(([cause, n]) => `${cause}: ${n}`).join(", ");

  say("");
  say("3. Summary");
  say(`  delivered   ${tally.delivered} of ${files.length} files, ${megabytes(totalBytes)}, ${files.length - missing.length} verified byte for byte in the sandbox libraries`);
  say(`  retried     ${tally.retries} attempts${causes === "" ? "" : ` (${causes})`}`);
  say(`  refreshed   ${tally.proactive + tally.inWrite} tokens (${tally.proactive} before expiry, ${tally.inWrite} inside a write), every one stored before its write settled`);
  say(`  failed      ${tally.failed}`);
  if (tally.duplicates > 0) {
    say(`  duplicates  ${duplicates} stored twice; ${tally.duplicates} receipts say possibleDuplicate (a reset left open whether digi.me had the file)`);
  }
  say(`  time        ${seconds(durationMs)}`);
  say(`  users       ${authorized} authorized now, ${reused} reused stored tokens`);
  say(`  tokens      ${TOKENS_PATH} (FileTokenStore${unsavedTokens.length > 0 ? `; NOT saved: ${unsavedTokens.join(", ")}` : ""})`);
  say(`  sandbox     ${SANDBOX_PATH} (so the next run's simulated digi.me knows these tokens)`);
  for (const failure of failures) say(`  failure     ${failure}`);
  say("");
  say(lost === 0 ? "Nothing was lost. Run `npm run demo` again: the stored tokens are reused." : `LOST: ${lost} file(s) did not reach digi.me.`);

  await writeFile(
    SUMMARY_PATH,
    `${JSON.stringify(
      {
        files: files.length,
        bytes: totalBytes,
        delivered: tally.delivered,
        verified: files.length - missing.length,
        retried: tally.retries,
        retriesByCause: Object.fromEntries(tally.byCause),
        refreshed: tally.proactive + tally.inWrite,
        refreshedBeforeExpiry: tally.proactive,
        refreshedInsideWrite: tally.inWrite,
        failed: tally.failed,
        possibleDuplicates: tally.duplicates,
        storedTwice: duplicates,
        lost,
        authorized,
        reused,
        durationMs,
        tokens: TOKENS_PATH,
        exchanges: sandbox.counters.exchanges,
      },
      null,
      2,
    )}\n`,
  );
  return lost === 0 && unsavedTokens.length === 0 ? 0 : 1;
}

/** The demo's files: mostly small JSON, some documents and images, a few multi-megabyte archives. */
function planFiles(count: number): PlannedFile[] {
  const kinds = [
    { weight: 55, ext: "json", mimeType: "application/json", min: 40, max: 4_000 },
    { weight: 25, ext: "pdf", mimeType: "application/pdf", min: 20_000, max: 400_000 },
    { weight: 12, ext: "jpg", mimeType: "image/jpeg", min: 200_000, max: 1_200_000 },
    { weight: 8, ext: "zip", mimeType: "application/zip", min: 1_500_000, max: 4_000_000 },
  ];
  const totalWeight = kinds.reduce((sum, k) => sum + k.weight, 0);
  return Array.from({ length: count }, (_, index) => {
    let pick = (index * 37) % totalWeight;
    const kind = kinds.find((k) => (pick -= k.weight) < 0) ?? kinds[0]!;
    const size = kind.min + Math.floor(Math.random() * (kind.max - kind.min));
    const bytes = kind.ext === "json" ? Buffer.from(JSON.stringify({ n: index, note: "x".repeat(Math.max(0, size - 30)) })) : randomBytes(size);
    const fileName = `${kind.ext === "json" ? "record" : kind.ext === "pdf" ? "statement" : kind.ext === "jpg" ? "photo" : "archive"}-${String(index + 1).padStart(3, "0")}.${kind.ext}`;
    // Large files go in as a stream factory: each attempt opens a fresh stream, so they stay retryable.
    const fileData = bytes.byteLength > 1_000_000 ? () => Readable.from([bytes]) : bytes;
    return {
      userId: USERS[index % USERS.length]!,
      size: bytes.byteLength,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      // The name again as a reference: SDKs 9+ do not send fileName, so that is how the file is found again.
      meta: { fileData, fileName, fileDescriptor: { mimeType: kind.mimeType, accounts: [{ accountId: "demo" }], reference: [fileName] } },
    };
  });
}

/** What made an attempt fail, in a few words. */
function causeOf(error: Error): string {
  if (error instanceof DeliveryError) {
    if (error.httpStatus === 429) return "429 Retry-After";
    if (error.httpStatus !== undefined && error.httpStatus >= 500) return error.message.startsWith("Refreshing") ? `refresh ${error.httpStatus}` : String(error.httpStatus);
    if (/ECONNRESET|reset/i.test(error.message)) return "connection reset";
  }
  return "network error";
}

async function loadSandboxState(): Promise<SandboxSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(SANDBOX_PATH, "utf8");
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as SandboxSnapshot;
    createSandbox({ state }); // throws when it is not a snapshot
    return state;
  } catch (error) {
    say(`  note         ${path.basename(SANDBOX_PATH)} is unreadable (${error instanceof Error ? error.message : String(error)}); starting a new sandbox`);
    return undefined;
  }
}

/** Saves the sandbox state atomically, one save at a time, the newest state last. */
function serialSaver(sandbox: Sandbox): () => Promise<void> {
  let chain = Promise.resolve();
  return () => {
    chain = chain.then(async () => {
      const temp = `${SANDBOX_PATH}.${process.pid}.tmp`;
      // Private keys and token values: owner-only, like the token file.
      await writeFile(temp, JSON.stringify(sandbox.exportState()), { mode: 0o600 });
      await rename(temp, SANDBOX_PATH);
    });
    return chain;
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);

/** A delivered file's name: sent as such by SDK 5–8 only, kept in the descriptor's reference by this demo. */
function nameOf(file: { fileName: string; fileDescriptor: { reference?: string[] | undefined } }): string | undefined {
  return file.fileName || file.fileDescriptor.reference?.[0];
}
