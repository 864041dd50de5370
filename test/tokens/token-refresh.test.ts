import { describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../src/index.js";
import type { Credentials, CredentialsKey, SetOptions, SetResult } from "../../src/stores.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REFRESH_VISIBLE, setup, testClient } from "../support/setup.js";

describe.each(REFRESH_VISIBLE)("an access token that expires in the middle of a queue (SDK %s)", (version) => {
  it("costs exactly one refresh, delivers every write, and leaves the newest token stored", async () => {
    // A revoked token is refreshed inside the SDK: one write of the user at a time, on strict lanes, keeps that
    // to one refresh (several at a time race, and the losers retry: see refresh-coordination.test.ts).
    const h = setup(version, { queue: { perUserConcurrency: 1, lendIdleSlots: false } });
    const libraryId = await h.authorize("alice");
    h.sandbox.resetCounters();
    let delivered = 0;
    h.client.on("write:succeeded", () => {
      delivered += 1;
      if (delivered === 10) h.sandbox.expireAccessTokens({ libraryId });
    });
    const receipts = await Promise.all(Array.from({ length: 40 }, (_, i) => h.client.write("alice", jsonFile(i))));
    expect(receipts.every((r) => r.status === "delivered")).toBe(true);
    expect(h.sandbox.counters.refreshes).toBe(1);
    expect(h.sandbox.counters.failedRefreshes).toBe(0);
    expect(receipts.filter((r) => r.tokenRefreshed)).toHaveLength(1);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(40);
    const stored = await h.store.get({ userId: "alice", contractId: h.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.accessToken.value).toBe(h.sandbox.latestToken(libraryId)?.accessToken.value);
    expect(stored?.userAccessToken.refreshToken.value).toBe(h.sandbox.latestToken(libraryId)?.refreshToken.value);
    const refreshed = h.events.filter((e) => e.name === "token:refreshed");
    expect(refreshed).toHaveLength(1);
    expect(refreshed[0]?.payload).toMatchObject({ userId: "alice", source: "write", persisted: true });
  });

  it("takes 200 concurrent writes of one user across an expiry with zero failures", async () => {
    const h = setup(version, { queue: { concurrency: 32 } });
    const libraryId = await h.authorize("bob");
    h.sandbox.resetCounters();
    let started = 0;
    h.client.on("write:started", () => {
      started += 1;
      if (started === 100) h.sandbox.expireAccessTokens({ libraryId });
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => h.client.write("bob", jsonFile(i))));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(200);
    expect(h.sandbox.counters.refreshes).toBe(1);
  });
});

describe("expiry per user with several users", () => {
  it("refreshes once per expiry per user and never mixes users' tokens", async () => {
    const h = setup("v16", { queue: { concurrency: 8 } });
    const libs = await Promise.all(["u1", "u2", "u3", "u4"].map((u) => h.authorize(u)));
    h.sandbox.resetCounters();
    let n = 0;
    h.client.on("write:succeeded", () => {
      n += 1;
      if (n === 20 || n === 60) h.sandbox.expireAccessTokens();
    });
    await Promise.all(["u1", "u2", "u3", "u4"].flatMap((u) => Array.from({ length: 25 }, (_, i) => h.client.write(u, jsonFile(i)))));
    expect(h.sandbox.counters.refreshes).toBe(8);
    for (const [i, user] of ["u1", "u2", "u3", "u4"].entries()) {
      const stored = await h.store.get({ userId: user, contractId: h.sandbox.contractDetails.contractId });
      expect(stored?.userAccessToken.accessToken.value).toBe(h.sandbox.latestToken(libs[i] ?? "")?.accessToken.value);
      expect(h.sandbox.library(libs[i] ?? "")?.files).toHaveLength(25);
    }
  });
});

describe("proactive refresh (SDKs with refreshToken)", () => {
  it("refreshes once, before the write, when the access token is about to expire", async () => {
    let now = Date.UTC(2026, 0, 1);
    const h = setup("v16", { refreshWindowMs: 60_000 }, { now: () => now, accessTokenLifetimeSeconds: 600 });
    const libraryId = await h.authorize("alice");
    h.sandbox.resetCounters();
    now += 570_000; // 30 s before expiry: inside the window
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => h.client.write("alice", jsonFile(i))));
    expect(h.sandbox.counters.refreshes).toBe(1);
    expect(receipts.filter((r) => r.tokenRefreshed)).toHaveLength(1);
    expect(h.events.filter((e) => e.name === "token:refreshed").map((e) => e.payload)).toMatchObject([{ source: "proactive", persisted: true }]);
    const stored = await h.store.get({ userId: "alice", contractId: h.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.accessToken.value).toBe(h.sandbox.latestToken(libraryId)?.accessToken.value);
  });

  it("refreshes as the window opens for a user who was writing all along", async () => {
    let now = Date.UTC(2026, 0, 1);
    const h = setup("v16", { refreshWindowMs: 60_000 }, { now: () => now, accessTokenLifetimeSeconds: 600 });
    await h.authorize("alice");
    h.sandbox.resetCounters();
    const refreshed: boolean[] = [];
    for (const [i, at] of [0, 100_000, 539_000, 540_000, 541_000].entries()) {
      now = Date.UTC(2026, 0, 1) + at;
      refreshed.push((await h.client.write("alice", jsonFile(i))).tokenRefreshed);
    }
    // The window opens 60 s before expiry, at 540 s: the write at that very moment refreshes, none before, none after.
    expect(refreshed).toEqual([false, false, false, true, false]);
    expect(h.sandbox.counters.refreshes).toBe(1);
  });

  it("is single-flight even when one user's writes run in parallel", async () => {
    let now = Date.UTC(2026, 0, 1);
    const h = setup("v16", { queue: { concurrency: 16, perUserConcurrency: 16 } }, { now: () => now, accessTokenLifetimeSeconds: 600 });
    await h.authorize("alice");
    h.sandbox.resetCounters();
    now += 601_000; // expired
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => h.client.write("alice", jsonFile(i))));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(h.sandbox.counters.refreshes).toBe(1);
  });
});

describe("an expired refresh token", () => {
  it("fails the next write of a user who was writing all along, without calling the SDK", async () => {
    // The refresh token dies before the access token: only its own expiry can stop the write.
    let now = Date.UTC(2026, 0, 1);
    const h = setup("v16", {}, { now: () => now, refreshTokenLifetimeSeconds: 600, accessTokenLifetimeSeconds: 3600 });
    await h.authorize("alice");
    await h.client.write("alice", jsonFile(1));
    await h.client.write("alice", jsonFile(2));
    h.sandbox.resetCounters();
    now += 599_000;
    await expect(h.client.write("alice", jsonFile(3))).resolves.toMatchObject({ status: "delivered" });
    now += 1_000;
    await expect(h.client.write("alice", jsonFile(4))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED", userId: "alice" });
    expect(h.sandbox.counters.writeAttempts).toBe(1);
    expect(h.events.filter((e) => e.name === "reauthorization:required").map((e) => e.payload)).toMatchObject([{ reason: "refresh-token-expired" }]);
  });

  it.each(["v8", "v10", "v16"] as const)("fails with REAUTHORIZATION_REQUIRED without calling the SDK (%s)", async (version) => {
    let now = Date.UTC(2026, 0, 1);
    const h = setup(version, {}, { now: () => now, refreshTokenLifetimeSeconds: 3600, accessTokenLifetimeSeconds: 600 });
    await h.authorize("alice");
    h.sandbox.resetCounters();
    now += 3_601_000;
    const error = await h.client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "REAUTHORIZATION_REQUIRED", userId: "alice", retryable: false });
    expect(h.sandbox.counters.writeAttempts).toBe(0);
    expect(h.sandbox.counters.refreshes + h.sandbox.counters.failedRefreshes).toBe(0);
    expect(h.events.filter((e) => e.name === "reauthorization:required").map((e) => e.payload)).toEqual([
      { userId: "alice", contractId: h.sandbox.contractDetails.contractId, reason: "refresh-token-expired" },
    ]);
    expect(await h.client.authorizationStatus("alice")).toMatchObject({ status: "reauthorization-required" });
  });

  it("rejected by digi.me mid-write becomes REAUTHORIZATION_REQUIRED, not retried", async () => {
    const h = setup("v8");
    const libraryId = await h.authorize("alice");
    h.sandbox.expireRefreshTokens({ libraryId });
    h.sandbox.expireAccessTokens({ libraryId });
    h.sandbox.resetCounters();
    const error = await h.client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    expect(h.sandbox.counters.writeAttempts).toBeLessThanOrEqual(2);
    expect(h.events.some((e) => e.name === "reauthorization:required")).toBe(true);
  });
});

/** A store whose writes fail until told otherwise. */
class FlakyStore extends MemoryTokenStore {
  failing = false;
  setCalls = 0;
  override async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    this.setCalls += 1;
    if (this.failing) throw new Error("database unavailable");
    return super.set(key, credentials, options);
  }
}

describe("a failing token store", () => {
  it("never loses the refreshed token: used from memory, announced, persisted once the store recovers", async () => {
    const store = new FlakyStore();
    const h = setup("v16", { tokenStore: store, persistRetry: { inlineAttempts: 2, minDelayMs: 1, maxDelayMs: 20 } });
    const libraryId = await h.authorize("alice");
    store.failing = true;
    h.sandbox.expireAccessTokens({ libraryId });
    const first = await h.client.write("alice", jsonFile(1));
    expect(first).toMatchObject({ status: "delivered", tokenRefreshed: true });
    const failed = h.events.filter((e) => e.name === "token:persist-failed");
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]?.payload).toMatchObject({ userId: "alice", willRetry: true, error: { code: "TOKEN_STORE_FAILED" } });
    // The newest token is used for the next writes: no second refresh, no InvalidToken.
    await Promise.all(Array.from({ length: 5 }, (_, i) => h.client.write("alice", jsonFile(i + 2))));
    expect(h.sandbox.counters.failedRefreshes).toBe(0);
    store.failing = false;
    await h.client.close();
    const stored = await store.get({ userId: "alice", contractId: h.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.accessToken.value).toBe(h.sandbox.latestToken(libraryId)?.accessToken.value);
  });

  it("close() reports users whose newest token could not be stored", async () => {
    const store = new FlakyStore();
    const h = setup("v8", { tokenStore: store, persistRetry: { inlineAttempts: 1, minDelayMs: 1, maxDelayMs: 5 } });
    const libraryId = await h.authorize("alice");
    store.failing = true;
    h.sandbox.expireAccessTokens({ libraryId });
    await h.client.write("alice", jsonFile(1));
    const result = await h.client.close();
    expect(result.unsavedTokens).toEqual(["alice"]);
    expect(h.events.filter((e) => e.name === "token:persist-failed").at(-1)?.payload).toMatchObject({ willRetry: false });
  });
});

describe("after digi.me rejects a user's refresh token", () => {
  it("fails the user's queued writes fast, without more SDK calls, and tells the app once", async () => {
    const h = setup("v8", { queue: { concurrency: 4 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.expireRefreshTokens({ libraryId });
    h.sandbox.expireAccessTokens({ libraryId });
    h.sandbox.resetCounters();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => h.client.write("alice", jsonFile(i))));
    expect(results.every((r) => r.status === "rejected" && (r.reason as { code: string }).code === "REAUTHORIZATION_REQUIRED")).toBe(true);
    // One doomed call learns the refresh token is dead; the other 19 writes never reach the SDK.
    expect(h.sandbox.counters.writeAttempts).toBe(1);
    expect(h.events.filter((e) => e.name === "reauthorization:required")).toHaveLength(1);
  });

  it("fails the next write without an SDK call for a user who was writing all along, even when the store cannot record the refusal", async () => {
    const store = new FlakyStore();
    const h = setup("v8", { tokenStore: store });
    const libraryId = await h.authorize("alice");
    await h.client.write("alice", jsonFile(1));
    await h.client.write("alice", jsonFile(2));
    h.sandbox.expireRefreshTokens({ libraryId });
    h.sandbox.expireAccessTokens({ libraryId });
    // The record in the store stays as it was: only this process's memory knows of the refusal.
    store.failing = true;
    h.sandbox.resetCounters();
    await expect(h.client.write("alice", jsonFile(3))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    const attempts = h.sandbox.counters.writeAttempts;
    expect(attempts).toBeGreaterThan(0);
    await expect(h.client.write("alice", jsonFile(4))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    expect(h.sandbox.counters.writeAttempts).toBe(attempts);
    expect(h.events.filter((e) => e.name === "reauthorization:required")).toHaveLength(1);
  });

  it("a new authorization clears it", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice", "lib-a");
    h.sandbox.expireRefreshTokens({ libraryId });
    h.sandbox.expireAccessTokens({ libraryId });
    await expect(h.client.write("alice", jsonFile(1))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    await h.authorize("alice", "lib-a");
    await expect(h.client.write("alice", jsonFile(2))).resolves.toMatchObject({ status: "delivered" });
  });
});

/**
 * Two clients on one MemoryTokenStore (two parts of one app): `a` records the
 * access token of every write it sends; `authorize` has a client authorize
 * alice and answers with the access token then stored.
 */
function twoClientsOnOneStore() {
  const store = new MemoryTokenStore();
  const used: string[] = [];
  const sandbox = createSandbox();
  const fake = sandbox.sdk("v16");
  const sdk = {
    ...fake,
    pushData: (options: Parameters<typeof fake.pushData>[0]) => {
      used.push(options.userAccessToken.accessToken.value);
      return fake.pushData(options);
    },
  };
  const shared = { contractDetails: sandbox.contractDetails, tokenStore: store, now: sandbox.now };
  const a = testClient({ ...shared, sdk });
  const b = testClient({ ...shared, sdk: fake });
  const key = { userId: "alice", contractId: sandbox.contractDetails.contractId };
  const authorize = async (client: typeof a): Promise<string> => {
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    await client.completeAuthorization(await sandbox.consent(url, { libraryId: "lib-alice" }), { sealed });
    return (await store.get(key))!.userAccessToken.accessToken.value;
  };
  return { store, used, a, b, key, authorize, close: () => Promise.all([a.close(), b.close()]) };
}

describe("a MemoryTokenStore shared by several clients", () => {
  it("writes with the token another client stored since this client's last write", async () => {
    const { used, a, b, authorize, close } = twoClientsOnOneStore();
    const first = await authorize(a);
    // Twice: the second write reads the record the first one already holds.
    await a.write("alice", jsonFile(1));
    await a.write("alice", jsonFile(2));
    expect(used).toEqual([first, first]);

    // Another client (another part of the app) authorizes alice again: a new pair, stored in the shared store.
    const second = await authorize(b);
    expect(second).not.toBe(first);
    await a.write("alice", jsonFile(3));
    await a.write("alice", jsonFile(4));
    expect(used).toEqual([first, first, second, second]);
    await close();
  });

  it("fails with USER_NOT_AUTHORIZED once another client deleted the user, and writes with the new token once authorized again", async () => {
    const { store, used, a, b, key, authorize, close } = twoClientsOnOneStore();
    const first = await authorize(a);
    await a.write("alice", jsonFile(1));
    await a.write("alice", jsonFile(2));
    // The app forgets alice (she disconnected) through another client: this client must not write with what it still holds.
    expect(await store.delete(key)).toBe(true);
    await expect(a.write("alice", jsonFile(3))).rejects.toMatchObject({ code: "USER_NOT_AUTHORIZED", userId: "alice" });
    const second = await authorize(b);
    expect(second).not.toBe(first);
    await a.write("alice", jsonFile(4));
    await a.write("alice", jsonFile(5));
    expect(used).toEqual([first, first, second, second]);
    await close();
  });
});
