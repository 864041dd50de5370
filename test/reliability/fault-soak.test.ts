/**
 * Fault soak: 10,000 writes over 100 users on each SDK generation, with
 * seeded random faults (20 % 503, 5 % 429 with Retry-After, 5 % connection
 * resets, half of them after the server accepted), latency spikes, and every
 * user's access token expiring several times on a controlled clock.
 *
 * CI mode by default. `SOAK=long npx vitest run test/reliability/fault-soak`
 * runs a longer mode by hand. `SOAK_SEED=<n>` replays another seed.
 */
import { describe, expect, it } from "vitest";
import { DeliveryError, DigimeWriteError, ReauthorizationRequiredError } from "../../src/index.js";
import type { SandboxSdkVersion } from "../../src/testing/index.js";
import { jsonFile, setup } from "../support/setup.js";
import { codeOf, deliveredFiles, runSoak, sameToken, type SoakConfig, type SoakRun } from "./support/soak.js";

const LONG = process.env.SOAK === "long";
const SEED = Number(process.env.SOAK_SEED ?? 20_260_101);

function configFor(version: SandboxSdkVersion): SoakConfig {
  return {
    version,
    users: LONG ? 500 : 100,
    writes: LONG ? 100_000 : 10_000,
    seed: SEED,
    concurrency: 32,
    accessTokenLifetimeSeconds: 600,
    // 100 s steps: a token handed out with more than half its life left cannot
    // expire during one attempt, so proactive refresh always comes first,
    // however many of a user's writes are in flight (the queue's defaults let
    // them overlap and borrow idle slots).
    clockStepMs: 100_000,
    // 36 steps = 3,600 s = six lifetimes: every user's token expires six times.
    clockSteps: LONG ? 180 : 36,
    // One user imports a history: a tenth of all writes, still queued when the others are done.
    backfillShare: 0.1,
    latencySpikeMs: LONG ? 50 : 10,
    latencySpikeProbability: 0.01,
    retryAfterCapMs: 3,
  };
}

interface Figures {
  writes: number;
  delivered: number;
  failed: Record<string, number>;
  duplicates: number;
  possibleDuplicateReceipts: number;
  refreshes: number;
  failedRefreshes: number;
  droppedBySdk: number;
  usersWithDrops: number;
  persistFailures: number;
  maxCallsInFlight: number;
  durationMs: number;
}

function figuresOf(run: SoakRun, files: ReturnType<typeof deliveredFiles>): Figures {
  const failed: Record<string, number> = {};
  let delivered = 0;
  let duplicates = 0;
  let possibleDuplicateReceipts = 0;
  for (const write of run.writes) {
    const outcome = write.outcome;
    if (outcome?.kind === "delivered") {
      delivered += 1;
      if (outcome.receipt.possibleDuplicate) possibleDuplicateReceipts += 1;
    } else if (outcome?.kind === "failed") {
      const code = codeOf(outcome.error);
      failed[code] = (failed[code] ?? 0) + 1;
    }
    duplicates += Math.max(0, (files.get(write.fileName)?.count ?? 0) - 1);
  }
  return {
    writes: run.writes.length,
    delivered,
    failed,
    duplicates,
    possibleDuplicateReceipts,
    refreshes: run.sandbox.counters.refreshes,
    failedRefreshes: run.sandbox.counters.failedRefreshes,
    droppedBySdk: run.recorder.drops.length,
    usersWithDrops: new Set(run.recorder.drops.map((d) => d.libraryId)).size,
    persistFailures: run.persistFailures,
    maxCallsInFlight: run.recorder.maxCallsInFlight,
    durationMs: Math.round(run.durationMs),
  };
}

function possiblyDelivered(error: unknown): boolean {
  return (error as { possiblyDelivered?: unknown }).possiblyDelivered === true;
}

/** What every generation must show: nothing lost, every outcome typed and truthful. */
async function assertNothingLost(run: SoakRun): Promise<Figures> {
  const files = deliveredFiles(run);
  const figures = figuresOf(run, files);
  const written = new Set(run.writes.map((w) => w.fileName));

  // Every write settled, and each settled exactly one way.
  expect(run.writes.filter((w) => w.outcome === undefined)).toEqual([]);
  expect(figures.delivered + Object.values(figures.failed).reduce((a, b) => a + b, 0)).toBe(run.writes.length);
  // No file appeared that nobody wrote, and every stored file holds the bytes written under its name.
  expect([...files.keys()].filter((name) => !written.has(name))).toEqual([]);
  expect([...files].filter(([, f]) => !f.bytesMatch).map(([name]) => name)).toEqual([]);
  expect([...files.values()].reduce((sum, f) => sum + f.count, 0)).toBe(run.sandbox.counters.deliveries);

  for (const write of run.writes) {
    const outcome = write.outcome!;
    const found = files.get(write.fileName);
    // A file only ever lands in its own user's library.
    if (found !== undefined) expect([...found.libraryIds]).toEqual([run.libraries[write.user]]);
    if (outcome.kind === "delivered") {
      // Delivered means found: no receipt without the bytes in the library.
      expect(outcome.receipt.status, write.fileName).toBe("delivered");
      expect(found?.count ?? 0, write.fileName).toBeGreaterThanOrEqual(1);
      expect(outcome.receipt.userId).toBe(run.userIds[write.user]);
      // Every duplicate is announced on its receipt.
      if (found!.count > 1) expect(outcome.receipt.possibleDuplicate, write.fileName).toBe(true);
    } else {
      // Failed means a typed error with a stable code; never silently lost.
      expect(outcome.error, write.fileName).toBeInstanceOf(DigimeWriteError);
      // A failed write whose bytes did arrive says so.
      if (found !== undefined) expect(possiblyDelivered(outcome.error), `${write.fileName}: ${codeOf(outcome.error)}`).toBe(true);
      if (outcome.error instanceof DeliveryError) expect(outcome.error.attempts).toBeGreaterThanOrEqual(1);
    }
  }

  // Retry-After was honoured (up to the configured cap) on every 429.
  const after429 = run.retrying.filter((e) => e.error instanceof DeliveryError && e.error.httpStatus === 429);
  expect(after429.length).toBeGreaterThan(0);
  for (const event of after429) expect(event.delayMs).toBeGreaterThanOrEqual(run.config.retryAfterCapMs);

  // The library never loses a token the SDK handed to it: for every user the
  // store holds the newest token the SDK returned or announced.
  const contractId = run.sandbox.contractDetails.contractId;
  for (const [u, userId] of run.userIds.entries()) {
    const libraryId = run.libraries[u]!;
    const stored = await run.store.get({ userId, contractId });
    // (With digimeApi the client refreshes without the SDK, which then never sees the newest pair: checked below.)
    if (run.config.digimeApi !== true) expect(sameToken(stored?.userAccessToken, run.recorder.newestSeen.get(libraryId)), userId).toBe(true);
    // And unless the SDK itself dropped a pair (see below), that is the newest the sandbox issued.
    if (!run.recorder.drops.some((d) => d.libraryId === libraryId)) {
      expect(sameToken(stored?.userAccessToken, run.sandbox.latestToken(libraryId)), userId).toBe(true);
    }
  }
  expect(await run.client.close()).toEqual({ unsavedTokens: [] });
  return figures;
}

function report(version: string, figures: Figures): void {
  const failed = Object.entries(figures.failed).map(([code, n]) => `${code}=${n}`).join(" ") || "none";
  console.log(
    `soak ${version}${LONG ? " (long)" : ""} seed=${SEED}: writes=${figures.writes} delivered=${figures.delivered} failed: ${failed}; ` +
      `duplicates=${figures.duplicates} possibleDuplicate receipts=${figures.possibleDuplicateReceipts}; ` +
      `refreshes=${figures.refreshes} failedRefreshes=${figures.failedRefreshes} droppedBySdk=${figures.droppedBySdk} (users ${figures.usersWithDrops}); ` +
      `persistFailures=${figures.persistFailures}; most calls of one user at once=${figures.maxCallsInFlight}; ${figures.durationMs} ms`,
  );
}

const timeout = LONG ? 30 * 60_000 : 90_000;


/** REAUTHORIZATION_REQUIRED only ever follows a token pair the SDK dropped (recorded by the SDK proxy). */
function expectReauthorizationOnlyAfterDrops(run: Awaited<ReturnType<typeof runSoak>>): void {
  const dropped = new Set(run.recorder.drops.map((d) => d.libraryId));
  for (const write of run.writes) {
    if (write.outcome?.kind === "failed" && write.outcome.error instanceof ReauthorizationRequiredError) {
      expect(dropped.has(run.libraries[write.user]!), write.fileName).toBe(true);
    }
  }
}

describe("fault soak: nothing lost under faults", () => {
  it(
    "SDK 16.x (generation C): every write delivered or failed with a reason, every user's store holds the newest token issued",
    async () => {
      const run = await runSoak(configFor("v16"));
      const figures = await assertNothingLost(run);
      report("v16", figures);
      // Proactive refresh comes before every expiry: the SDK never refreshes
      // inside a write, so it never drops a pair, and no user needs to consent again.
      expect(run.recorder.drops).toEqual([]);
      // And that held with a user's writes overlapping past their share of 4 (borrowed idle slots).
      expect(run.recorder.maxCallsInFlight).toBeGreaterThan(4);
      expect(Object.keys(figures.failed).filter((code) => code !== "DELIVERY_RETRIES_EXHAUSTED")).toEqual([]);
      // Every failed refresh was an injected fault: no spent refresh token was ever presented.
      expect(figures.failedRefreshes).toBe(run.refreshFaultHits);
      // Every user's token expired several times and was rotated each time.
      expect(figures.refreshes).toBeGreaterThanOrEqual(run.config.users * 5);
      expect(figures.delivered).toBeGreaterThan(run.writes.length * 0.99);
    },
    timeout,
  );

  it(
    "SDK 16.x with tokens revoked early by digi.me: the SDK refreshes inside writes, the library keeps every token it announces",
    async () => {
      // No clock steps: proactive refresh cannot see a revocation, so every refresh happens inside pushData.
      const run = await runSoak({ ...configFor("v16"), clockSteps: 0, revocations: 5 });
      const figures = await assertNothingLost(run);
      report("v16 revoked", figures);
      expect(figures.refreshes).toBeGreaterThanOrEqual(run.config.users);
      expect(Object.keys(figures.failed).filter((code) => code !== "DELIVERY_RETRIES_EXHAUSTED" && code !== "REAUTHORIZATION_REQUIRED")).toEqual([]);
      expectReauthorizationOnlyAfterDrops(run);
    },
    timeout,
  );

  it(
    "SDK 8.x (generation A): the same guarantees; the only tokens lost are the ones the SDK drops when its own push after a refresh fails",
    async () => {
      const run = await runSoak(configFor("v8"));
      const figures = await assertNothingLost(run);
      report("v8", figures);
      expect(figures.refreshes).toBeGreaterThanOrEqual(run.config.users);
      // Failures are transient faults that outlasted the retries, or users whose token the SDK dropped.
      expect(Object.keys(figures.failed).filter((code) => code !== "DELIVERY_RETRIES_EXHAUSTED" && code !== "REAUTHORIZATION_REQUIRED")).toEqual([]);
      expectReauthorizationOnlyAfterDrops(run);
    },
    timeout,
  );

  it(
    "SDK 10.x (generation B): cannot see refreshes; every write still delivered or failed with a reason, and the failures say: authorize again",
    async () => {
      const run = await runSoak(configFor("v10"));
      const figures = await assertNothingLost(run);
      report("v10", figures);
      expect(Object.keys(figures.failed).filter((code) => code !== "DELIVERY_RETRIES_EXHAUSTED" && code !== "REAUTHORIZATION_REQUIRED")).toEqual([]);
      expect(figures.failed.REAUTHORIZATION_REQUIRED ?? 0).toBeGreaterThan(0);
      // Every refresh happened inside the SDK, which kept the pair to itself.
      expect(figures.droppedBySdk).toBe(figures.refreshes);
      expectReauthorizationOnlyAfterDrops(run);
    },
    timeout,
  );
});

describe("fault soak, generations A and B with digimeApi: as lossless as generation C", () => {
  it.each(["v8", "v10"] as const)(
    "SDK %s: the client refreshes first over the token endpoint; the SDK never refreshes, drops nothing, and no user needs to consent again",
    async (version) => {
      const run = await runSoak({ ...configFor(version), digimeApi: true });
      const figures = await assertNothingLost(run);
      report(`${version} with digimeApi`, figures);
      expect(run.recorder.drops).toEqual([]);
      // With the client refreshing first, a user's writes overlap and borrow idle slots as on generation C.
      expect(run.recorder.maxCallsInFlight).toBeGreaterThan(4);
      expect(Object.keys(figures.failed).filter((code) => code !== "DELIVERY_RETRIES_EXHAUSTED")).toEqual([]);
      // Every failed refresh was an injected fault: no spent refresh token was ever presented.
      expect(figures.failedRefreshes).toBe(run.refreshFaultHits);
      expect(figures.refreshes).toBeGreaterThanOrEqual(run.config.users * 5);
      expect(figures.delivered).toBeGreaterThan(run.writes.length * 0.99);
    },
    timeout,
  );
});

describe("a failed write that may have been stored says so, whatever its final code", () => {
  it("DELIVERY_RETRIES_EXHAUSTED after a reset that came after the server accepted", async () => {
    const h = setup("v16", { retry: { retries: 2, minDelayMs: 0, maxDelayMs: 1 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, times: 1 });
    h.sandbox.faults.add({ status: 503 });
    const error = await h.client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "DELIVERY_RETRIES_EXHAUSTED", httpStatus: 503, attempts: 3, possiblyDelivered: true });
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);
    expect(h.events.find((e) => e.name === "write:failed")?.payload).toMatchObject({ possiblyDelivered: true });
  });

  it("REAUTHORIZATION_REQUIRED after a reset that came after the server accepted", async () => {
    let now = Date.UTC(2030, 0, 1);
    const h = setup("v16", {}, { now: () => now, refreshTokenLifetimeSeconds: 3600 });
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, times: 1 });
    // While the write waits to retry, the refresh token runs out: the retry needs a new consent.
    h.client.on("write:retrying", () => (now += 3_601_000));
    const error = await h.client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect(error).toMatchObject({ userId: "alice", reason: "the refresh token has expired", possiblyDelivered: true });
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);
  });

  it("stays false when no attempt could have reached digi.me", async () => {
    const h = setup("v16", { retry: { retries: 1, minDelayMs: 0, maxDelayMs: 1 } });
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 503 });
    await expect(h.client.write("alice", jsonFile(1))).rejects.toMatchObject({ code: "DELIVERY_RETRIES_EXHAUSTED", possiblyDelivered: false });
    expect(h.events.find((e) => e.name === "write:failed")?.payload).toMatchObject({ possiblyDelivered: false });
  });
});
