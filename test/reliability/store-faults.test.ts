/**
 * A token store that fails, hangs, answers late or refuses compare-and-set at
 * random: no refreshed token is ever lost, the app hears
 * `token:persist-failed`, and once the store recovers it holds the newest token.
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient, type TokenPersistFailedEvent, type WriteClientOptions } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";
import { FaultyStore, HEALTHY, type StoreFaults } from "./support/faulty-store.js";
import { sameToken } from "./support/soak.js";

const T0 = Date.UTC(2030, 0, 1);

function harness(seed: number, overrides: Partial<WriteClientOptions> = {}) {
  const clock = { now: T0 };
  const sandbox = createSandbox({ seed, now: () => clock.now, accessTokenLifetimeSeconds: 600 });
  const store = new FaultyStore(new MemoryTokenStore({ now: () => clock.now }), seed);
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: store,
    stateSecret: STATE_SECRET,
    now: () => clock.now,
    refreshWindowMs: 300_000,
    storeTimeoutMs: 25,
    persistRetry: { inlineAttempts: 2, minDelayMs: 1, maxDelayMs: 10 },
    retry: { minDelayMs: 0, maxDelayMs: 2 },
    // One write per user at a time: this clock jumps 100 s every 20 settled writes, so several writes of a
    // user in flight can see their token expire between the check and the SDK call, which real time within
    // the refresh window does not (several at a time: test/tokens/refresh-coordination.test.ts).
    queue: { concurrency: 16, perUserConcurrency: 1 },
    ...overrides,
  });
  const persistFailed: TokenPersistFailedEvent[] = [];
  client.on("token:persist-failed", (event) => persistFailed.push(event));
  const authorize = async (userId: string): Promise<string> => {
    const libraryId = `lib-${userId}`;
    const { url, sealed } = await client.beginAuthorization({ userId });
    await client.completeAuthorization(await sandbox.consent(url, { libraryId }), { sealed });
    return libraryId;
  };
  return { clock, sandbox, store, client, persistFailed, authorize };
}

type Harness = ReturnType<typeof harness>;

async function storedIsNewest(h: Harness, users: string[]): Promise<void> {
  for (const userId of users) {
    const stored = await h.store.inner.get({ userId, contractId: h.sandbox.contractDetails.contractId });
    expect(sameToken(stored?.userAccessToken, h.sandbox.latestToken(`lib-${userId}`)), userId).toBe(true);
  }
}

describe.each<[string, StoreFaults]>([
  ["fails", { ...HEALTHY, fail: 0.5 }],
  ["never answers", { ...HEALTHY, hang: 0.4 }],
  ["answers late, and applies late writes", { ...HEALTHY, slow: 0.5, slowMs: 40 }],
  ["refuses compare-and-set at random", { ...HEALTHY, conflict: 0.6 }],
  ["does all of it at once", { fail: 0.2, hang: 0.1, slow: 0.2, slowMs: 40, conflict: 0.3 }],
])("a token store that %s", (_name, faults) => {
  it("loses no refreshed token: every write delivered, no spent refresh token ever presented, the newest token stored once it recovers", async () => {
    // One inline try per persist: every faulty save is reported, so "the app heard" below does not hang on
    // a few unlucky draws (with two tries only ~16% of persists under 40% hangs were reported).
    const h = harness(7, { persistRetry: { inlineAttempts: 1, minDelayMs: 1, maxDelayMs: 10 } });
    const users = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    await Promise.all(users.map((u) => h.authorize(u)));
    h.store.faults = faults;
    h.sandbox.resetCounters();
    // 320 writes; every 20 settled writes the clock moves 100 s, so each token is rotated about five times
    // (three or four when the faults slow the writes down: at least two is asserted).
    let settled = 0;
    const writes = Array.from({ length: 320 }, (_, i) =>
      h.client.write(users[i % users.length]!, jsonFile(i)).finally(() => {
        settled += 1;
        if (settled % 20 === 0) h.clock.now += 100_000;
      }),
    );
    const outcomes = await Promise.allSettled(writes);
    expect(outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason)).toEqual([]);
    expect(h.sandbox.counters.refreshes).toBeGreaterThanOrEqual(users.length * 2);
    // A lost token would show here: the next refresh presents a spent refresh token.
    expect(h.sandbox.counters.failedRefreshes).toBe(0);
    for (const userId of users) expect(h.sandbox.library(`lib-${userId}`)?.files).toHaveLength(40);
    if (faults.fail + faults.hang + faults.slow === 0) {
      // Refused compare-and-sets alone are overcome inline, by reading and trying again.
      expect(h.store.counts.conflicts).toBeGreaterThan(0);
    } else {
      // The app heard about it, with a typed, retryable error.
      expect(h.persistFailed.length).toBeGreaterThan(0);
      for (const event of h.persistFailed) expect(event.error).toMatchObject({ code: "TOKEN_STORE_FAILED", retryable: true });
    }
    // The store recovers: what it holds for every user is the newest token digi.me issued.
    h.store.faults = HEALTHY;
    expect(await h.client.close()).toEqual({ unsavedTokens: [] });
    await storedIsNewest(h, users);
  });
});

describe("a store that never answers", () => {
  it("does not hold writes up: each settles within the store timeout, and the token is persisted once the store answers again", async () => {
    const h = harness(11, { storeTimeoutMs: 30 });
    await h.authorize("alice");
    h.store.faults = { ...HEALTHY, hang: 1 };
    h.clock.now += 400_000; // inside the refresh window: the next write refreshes first
    const receipt = await h.client.write("alice", jsonFile(1));
    expect(receipt).toMatchObject({ status: "delivered", tokenRefreshed: true });
    expect(h.persistFailed.length).toBeGreaterThan(0);
    expect(h.persistFailed[0]?.error.message).toMatch(/did not answer within 30 ms/);
    // Later writes use the newest token from memory.
    await expect(Promise.all([2, 3, 4].map((n) => h.client.write("alice", jsonFile(n))))).resolves.toHaveLength(3);
    expect(h.sandbox.counters.failedRefreshes).toBe(0);
    h.store.faults = HEALTHY;
    expect(await h.client.close()).toEqual({ unsavedTokens: [] });
    await storedIsNewest(h, ["alice"]);
  });

  it("reports the user in close().unsavedTokens when it still does not answer at close", async () => {
    const h = harness(12, { storeTimeoutMs: 20 });
    await h.authorize("alice");
    h.store.faults = { ...HEALTHY, hang: 1 };
    h.clock.now += 400_000;
    await h.client.write("alice", jsonFile(1));
    expect(await h.client.close()).toEqual({ unsavedTokens: ["alice"] });
    expect(h.persistFailed.at(-1)).toMatchObject({ userId: "alice", willRetry: false });
  });
});

describe("a late write", () => {
  it("that lands after the library gave up on it never overwrites a newer token", async () => {
    const h = harness(13, { storeTimeoutMs: 10 });
    await h.authorize("alice");
    const key = { userId: "alice", contractId: h.sandbox.contractDetails.contractId };
    // Every call answers late (after the timeout), then still applies.
    h.store.faults = { ...HEALTHY, slow: 1, slowMs: 30 };
    h.clock.now += 400_000;
    await h.client.write("alice", jsonFile(1));
    h.clock.now += 400_000;
    await h.client.write("alice", jsonFile(2));
    h.store.faults = HEALTHY;
    // Let every late set land.
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await h.client.close()).toEqual({ unsavedTokens: [] });
    expect(h.store.counts.lateSets).toBeGreaterThan(0);
    await storedIsNewest(h, ["alice"]);
    expect((await h.store.inner.get(key))?.version).toBeGreaterThan(1);
  });
});
