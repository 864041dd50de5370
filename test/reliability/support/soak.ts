/**
 * The fault soak: many writes over many users against a sandbox that fails
 * at random (seeded) while every user's access token keeps expiring. It
 * returns everything the assertions need; it asserts nothing itself.
 */
import {
  DigimeWriteError,
  MemoryTokenStore,
  type WriteClient,
  type UserAccessToken,
  type WriteReceipt,
  type WriteRetryingEvent,
} from "../../../src/index.js";
import { createSandbox, type FaultHandle, type Sandbox, type SandboxSdkVersion } from "../../../src/testing/index.js";
import { recordingSdk, type SdkRecorder } from "./recording-sdk.js";
import { testClient } from "../../support/test-client.js";
import { mulberry32 } from "../../../src/testing/sandbox/random.js";

export { REDIRECT_URI, STATE_SECRET } from "../../support/test-client.js";

export interface SoakConfig {
  version: SandboxSdkVersion;
  users: number;
  writes: number;
  seed: number;
  /** Writes in flight at once across users. */
  concurrency: number;
  /** Access token lifetime in the sandbox, seconds. */
  accessTokenLifetimeSeconds: number;
  /** The clock moves by this much every `writes / clockSteps` settled writes. */
  clockStepMs: number;
  clockSteps: number;
  /** The share of writes that go to user 0 on top of its random share (a history import). */
  backfillShare?: number;
  /** digi.me revokes every access token this many times during the run, spread evenly (0: never). */
  revocations?: number;
  /** Latency of a spike, ms (real timers). */
  latencySpikeMs: number;
  latencySpikeProbability: number;
  retryAfterCapMs: number;
  /**
   * Give the client the `digimeApi` option, the sandbox listening over HTTP:
   * the client then refreshes over the token endpoint itself (SDKs without
   * `refreshToken`), while the SDK fake writes in process to the same state.
   */
  digimeApi?: boolean;
}

export type Outcome =
  | { kind: "delivered"; receipt: WriteReceipt }
  | { kind: "failed"; error: unknown };

export interface SoakRun {
  config: SoakConfig;
  sandbox: Sandbox;
  client: WriteClient;
  store: MemoryTokenStore;
  recorder: SdkRecorder;
  /** libraryId per user index. */
  libraries: string[];
  userIds: string[];
  /** Per write: user index, file name, expected bytes, outcome. */
  writes: Array<{ user: number; fileName: string; bytes: Buffer; outcome: Outcome | undefined }>;
  retrying: WriteRetryingEvent[];
  persistFailures: number;
  /** Refresh calls failed by an injected fault. */
  refreshFaultHits: number;
  durationMs: number;
  clockAdvancedMs: number;
}

/** The seeded PRNG the sandbox uses too. */
export const prng = mulberry32;

export async function runSoak(config: SoakConfig): Promise<SoakRun> {
  let now = Date.UTC(2030, 0, 1);
  const clock = () => now;
  const sandbox = createSandbox({ seed: config.seed, now: clock, accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds });
  if (config.digimeApi === true) await sandbox.listen();
  const recorder = recordingSdk(sandbox, config.version);
  const store = new MemoryTokenStore({ now: clock });
  // Every pair the library stores reached it, whether through the SDK or its own refresh over digimeApi.
  const storeSet = store.set.bind(store);
  store.set = (key, credentials, options) => {
    recorder.libraryReceived(credentials.userAccessToken);
    return storeSet(key, credentials, options);
  };
  const client = testClient({
    sdk: recorder.sdk,
    contractDetails: sandbox.contractDetails,
    tokenStore: store,
    now: clock,
    // Proactive refresh (SDKs with refreshToken) once half the lifetime is left.
    refreshWindowMs: (config.accessTokenLifetimeSeconds * 1000) / 2,
    retry: { minDelayMs: 0, maxDelayMs: 2, maxRetryAfterMs: config.retryAfterCapMs, jitter: false },
    // The queue's defaults for the SDK: where the library refreshes before expiry, a user's writes overlap and
    // borrow idle slots; elsewhere they go one at a time.
    queue: { concurrency: config.concurrency, maxQueued: config.writes, maxQueuedPerUser: config.writes },
    ...(config.digimeApi === true ? { digimeApi: { applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl } } : {}),
  });
  const retrying: WriteRetryingEvent[] = [];
  let persistFailures = 0;
  client.on("write:retrying", (event) => retrying.push(event));
  client.on("token:persist-failed", () => (persistFailures += 1));

  // Authorize every user, a few at a time.
  const userIds = Array.from({ length: config.users }, (_, u) => `user-${u}`);
  const libraries = userIds.map((_, u) => `lib-${config.version}-${u}`);
  for (let start = 0; start < config.users; start += 10) {
    await Promise.all(
      userIds.slice(start, start + 10).map(async (userId, i) => {
        const { url, sealed } = await client.beginAuthorization({ userId });
        const callback = await sandbox.consent(url, { libraryId: libraries[start + i] });
        await client.completeAuthorization(callback, { sealed });
      }),
    );
  }

  // Faults on every write and every refresh. Rules are drawn in order and the
  // first failing rule that fires wins, so the later probabilities are
  // conditional: overall 20 % 503, 5 % 429, 2.5 % reset before and 2.5 %
  // after the server accepted.
  sandbox.faults.add({ operation: "any", latencyMs: config.latencySpikeMs, probability: config.latencySpikeProbability });
  const refreshFaults: FaultHandle[] = [];
  for (const operation of ["write", "refresh"] as const) {
    const rules = [
      sandbox.faults.add({ operation, status: 503, probability: 0.2 }),
      sandbox.faults.add({ operation, status: 429, retryAfterSeconds: 1, probability: 0.05 / 0.8 }),
      sandbox.faults.add({ operation, network: "ECONNRESET", probability: 0.025 / 0.75 }),
    ];
    if (operation === "refresh") refreshFaults.push(...rules);
  }
  // A refresh reset after the server rotated loses the pair for any client: only writes get those.
  sandbox.faults.add({ operation: "write", network: "ECONNRESET", afterAccept: true, probability: 0.025 / 0.725 });

  const random = prng(config.seed ^ 0x5eed);
  const writes: SoakRun["writes"] = [];
  for (let i = 0; i < config.writes; i += 1) {
    // A share of the writes is one user's backfill: that user still has a backlog once the others are done.
    const user = random() < (config.backfillShare ?? 0) ? 0 : Math.floor(random() * config.users);
    const fileName = `${config.version}-w${i}.json`;
    writes.push({ user, fileName, bytes: Buffer.from(JSON.stringify({ i, user, r: random() })), outcome: undefined });
  }
  sandbox.resetCounters();

  let settled = 0;
  let clockAdvancedMs = 0;
  const stepEvery = Math.max(1, Math.floor(config.writes / (config.clockSteps + 1)));
  const revocations = config.revocations ?? 0;
  const revokeEvery = Math.max(1, Math.floor(config.writes / (revocations + 1)));
  let revoked = 0;
  const started = performance.now();
  await Promise.all(
    writes.map(async (write) => {
      try {
        const receipt = await client.write(userIds[write.user]!, {
          fileData: write.bytes,
          fileName: write.fileName,
          // The name again as a reference: SDKs 9+ never send fileName, so files are found by reference.
          fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "soak" }], reference: [write.fileName] },
        });
        write.outcome = { kind: "delivered", receipt };
      } catch (error) {
        write.outcome = { kind: "failed", error };
      }
      settled += 1;
      if (revoked < revocations && settled % revokeEvery === 0) {
        sandbox.expireAccessTokens();
        revoked += 1;
      }
      if (config.clockSteps > 0 && settled % stepEvery === 0 && clockAdvancedMs < config.clockStepMs * config.clockSteps) {
        now += config.clockStepMs;
        clockAdvancedMs += config.clockStepMs;
      }
    }),
  );
  await client.close();
  await sandbox.close();
  const durationMs = performance.now() - started;
  const refreshFaultHits = refreshFaults.reduce((sum, rule) => sum + rule.hits, 0);
  return { config, sandbox, client, store, recorder, libraries, userIds, writes, retrying, persistFailures, refreshFaultHits, durationMs, clockAdvancedMs };
}

/** Files delivered per file name, and whether their bytes are the ones written. */
export function deliveredFiles(run: SoakRun): Map<string, { count: number; libraryIds: Set<string>; bytesMatch: boolean }> {
  const expected = new Map(run.writes.map((w) => [w.fileName, w.bytes] as const));
  const found = new Map<string, { count: number; libraryIds: Set<string>; bytesMatch: boolean }>();
  for (const library of run.sandbox.libraries()) {
    for (const file of library.files) {
      const name = file.fileDescriptor.reference?.[0] ?? "";
      const entry = found.get(name) ?? { count: 0, libraryIds: new Set<string>(), bytesMatch: true };
      entry.count += 1;
      entry.libraryIds.add(library.id);
      const bytes = expected.get(name);
      if (bytes === undefined || !bytes.equals(file.bytes)) entry.bytesMatch = false;
      found.set(name, entry);
    }
  }
  return found;
}

export function sameToken(a: UserAccessToken | undefined, b: UserAccessToken | undefined): boolean {
  return a !== undefined && b !== undefined && a.accessToken.value === b.accessToken.value && a.refreshToken.value === b.refreshToken.value;
}

export function codeOf(error: unknown): string {
  return error instanceof DigimeWriteError ? error.code : `untyped:${error instanceof Error ? error.name : typeof error}`;
}
