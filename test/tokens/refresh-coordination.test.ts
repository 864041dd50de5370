/**
 * Several clients sharing one token store stand for several processes: each
 * has its own SDK instance and keeper, and only the store (and digi.me) is
 * shared. Refreshes are coordinated by the store's lease; a refused refresh
 * token is reported only when nothing newer exists anywhere.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { FileTokenStore, MemoryPendingAuthorizationStore, MemoryTokenStore, WriteClient, type TokenStore, type WriteClientOptions } from "../../src/index.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, setup, STATE_SECRET } from "../support/setup.js";
import { withoutLeases } from "../support/without-leases.js";

const T0 = Date.UTC(2030, 0, 1);

interface Fleet {
  clock: { now: number };
  sandbox: Sandbox;
  store: TokenStore;
  clients: WriteClient[];
  reauthorizations: number;
}

function fleet(size: number, store: TokenStore, overrides: Partial<WriteClientOptions> = {}, accessTokenLifetimeSeconds = 600): Fleet {
  const clock = { now: T0 };
  const sandbox = createSandbox({ now: () => clock.now, accessTokenLifetimeSeconds });
  const result: Fleet = { clock, sandbox, store, clients: [], reauthorizations: 0 };
  for (let i = 0; i < size; i += 1) {
    const client = new WriteClient({
      sdk: sandbox.sdk("v16"),
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: STATE_SECRET,
      now: () => clock.now,
      retry: { minDelayMs: 1, maxDelayMs: 5 },
      ...overrides,
    });
    client.on("reauthorization:required", () => void (result.reauthorizations += 1));
    result.clients.push(client);
  }
  return result;
}

async function authorize(f: Fleet, userId: string): Promise<string> {
  const client = f.clients[0]!;
  const libraryId = `lib-${userId}`;
  const { url, sealed } = await client.beginAuthorization({ userId });
  await client.completeAuthorization(await f.sandbox.consent(url, { libraryId }), { sealed });
  return libraryId;
}

/** Every client writes `perClient` files for `userId`; the clock crosses the token's expiry every `expireEvery` settled writes. */
async function writeAcrossExpiries(f: Fleet, userId: string, perClient: number, expireEvery: number, stepMs: number) {
  let settled = 0;
  const writes = f.clients.flatMap((client, c) =>
    Array.from({ length: perClient }, (_, i) =>
      client.write(userId, jsonFile(c * perClient + i)).finally(() => {
        settled += 1;
        if (settled % expireEvery === 0) f.clock.now += stepMs;
      }),
    ),
  );
  return Promise.allSettled(writes);
}

/**
 * `waves` waves of `perWave` writes for `userId`, spread over the clients and
 * written at once; between waves, with nothing in flight, the clock moves
 * `stepMs`. Time passes between writes, not inside them, as in real time,
 * where a token handed out with more than the refresh window left cannot
 * expire while its call is in flight.
 */
async function writeInWaves(f: Fleet, userId: string, waves: number, perWave: number, stepMs: number) {
  const results: PromiseSettledResult<unknown>[] = [];
  for (let wave = 0; wave < waves; wave += 1) {
    if (wave > 0) f.clock.now += stepMs;
    const writes = Array.from({ length: perWave }, (_, i) => f.clients[i % f.clients.length]!.write(userId, jsonFile(wave * perWave + i)));
    results.push(...(await Promise.allSettled(writes)));
  }
  return results;
}

function rejections(results: PromiseSettledResult<unknown>[]): unknown[] {
  return results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
}

describe("several processes sharing a store with refresh leases", () => {
  it("refresh a user's token once per expiry, never present a spent refresh token, and never report a re-consent", async () => {
    const f = fleet(4, new MemoryTokenStore({ now: () => T0 }));
    const libraryId = await authorize(f, "alice");
    f.sandbox.resetCounters();
    // 8 waves of 25 writes over the 4 processes; between waves the clock moves 550 s, into the last 50 s of the
    // newest token's 600 s life: 7 proactive refreshes due, each wanted by several processes at once.
    // (Moving the clock while writes are inside the SDK would expire tokens mid-call, which real time does not
    // do to a token handed out with more than the refresh window left; the test without leases does that.)
    const results = await writeInWaves(f, "alice", 8, 25, 550_000);
    expect(rejections(results)).toEqual([]);
    expect(f.sandbox.library(libraryId)?.files).toHaveLength(200);
    expect(f.sandbox.counters.failedRefreshes).toBe(0);
    expect(f.sandbox.counters.refreshes).toBe(7);
    expect(f.reauthorizations).toBe(0);
    const stored = await f.store.get({ userId: "alice", contractId: f.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.refreshToken.value).toBe(f.sandbox.latestToken(libraryId)?.refreshToken.value);
  });

  it("wait out a holder that died mid-refresh: its lease frees itself and the next process refreshes", async () => {
    const store = new MemoryTokenStore();
    const f = fleet(2, store, { refreshCoordination: { leaseMs: 60_000, holderWaitMs: 5_000 } });
    const libraryId = await authorize(f, "alice");
    f.clock.now += 601_000;
    const key = { userId: "alice", contractId: f.sandbox.contractDetails.contractId };
    // A process took the lease and died: nobody will release it; it expires after 150 ms of wall-clock time.
    expect(await store.acquireRefreshLease(key, { owner: "dead-process", ttlMs: 150 })).toBe(true);
    f.sandbox.resetCounters();
    const receipt = await f.clients[1]!.write("alice", jsonFile(1));
    expect(receipt).toMatchObject({ status: "delivered", tokenRefreshed: true });
    expect(f.sandbox.counters.refreshes).toBe(1);
    expect((await store.get(key))?.userAccessToken.refreshToken.value).toBe(f.sandbox.latestToken(libraryId)?.refreshToken.value);
  });

  it("fail a write with a retryable TOKEN_STORE_FAILED, not a re-consent, when the holder keeps the lease past holderWaitMs", async () => {
    const store = new MemoryTokenStore();
    const f = fleet(1, store, { refreshCoordination: { holderWaitMs: 50 }, retry: { retries: 0 } });
    await authorize(f, "alice");
    f.clock.now += 601_000;
    expect(await store.acquireRefreshLease({ userId: "alice", contractId: f.sandbox.contractDetails.contractId }, { owner: "slow", ttlMs: 60_000 })).toBe(true);
    f.sandbox.resetCounters();
    const error = await f.clients[0]!.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOKEN_STORE_FAILED", retryable: true });
    expect(String((error as Error).message)).toMatch(/held this user's refresh lease/);
    expect(f.sandbox.counters.refreshes + f.sandbox.counters.failedRefreshes).toBe(0);
    expect(f.reauthorizations).toBe(0);
  });
});

describe("several processes sharing a store without refresh leases", () => {
  it("may race to refresh, but a refused refresh finds the winner's token: every write delivered, no re-consent", async () => {
    const f = fleet(4, withoutLeases(new MemoryTokenStore()));
    const libraryId = await authorize(f, "alice");
    f.sandbox.resetCounters();
    const results = await writeAcrossExpiries(f, "alice", 50, 25, 601_000);
    expect(rejections(results)).toEqual([]);
    expect(f.sandbox.library(libraryId)?.files).toHaveLength(200);
    expect(f.reauthorizations).toBe(0);
    expect(f.sandbox.counters.refreshes).toBe(7);
    const stored = await f.store.get({ userId: "alice", contractId: f.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.refreshToken.value).toBe(f.sandbox.latestToken(libraryId)?.refreshToken.value);
  });

  it("still report a re-consent when digi.me refuses the refresh token and nothing newer turns up", async () => {
    const f = fleet(2, withoutLeases(new MemoryTokenStore()), { refreshCoordination: { newerTokenWaitMs: 50 } });
    const libraryId = await authorize(f, "alice");
    f.sandbox.expireRefreshTokens({ libraryId });
    f.clock.now += 601_000;
    const errors = await Promise.all(f.clients.map((client) => client.write("alice", jsonFile(1)).catch((e: unknown) => e)));
    for (const error of errors) expect(error).toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    expect(f.reauthorizations).toBeGreaterThanOrEqual(1);
  });
});

describe("the proactive refresh window", () => {
  it("is capped at half the token's life, so a window longer than the token lives does not refresh on every write", async () => {
    // 10-second tokens, the default 60-second window: without the cap every write would refresh.
    const f = fleet(1, new MemoryTokenStore(), {}, 10);
    await authorize(f, "alice");
    f.sandbox.resetCounters();
    // 100 writes, 200 ms apart: 20 s, two token lifetimes.
    for (let i = 0; i < 100; i += 1) {
      await f.clients[0]!.write("alice", jsonFile(i));
      f.clock.now += 200;
    }
    // A refresh when half the life is left: about every 5 s, so 4 in 20 s (one per 25 writes).
    expect(f.sandbox.counters.refreshes).toBeGreaterThanOrEqual(3);
    expect(f.sandbox.counters.refreshes).toBeLessThanOrEqual(5);
    expect(f.sandbox.counters.failedRefreshes).toBe(0);
  });
});

describe("one user's writes in parallel (perUserConcurrency above 1)", () => {
  it("with lendIdleSlots off: 4 at a time with an SDK that refreshes proactively, even alone", async () => {
    const f = fleet(1, new MemoryTokenStore(), { queue: { lendIdleSlots: false } });
    const libraryId = await authorize(f, "alice");
    let running = 0;
    let most = 0;
    f.sandbox.faults.add({ operation: "write", latencyMs: 5 });
    f.clients[0]!.on("write:started", () => void (most = Math.max(most, ++running)));
    f.clients[0]!.on("write:succeeded", () => void (running -= 1));
    await Promise.all(Array.from({ length: 40 }, (_, i) => f.clients[0]!.write("alice", jsonFile(i))));
    expect(most).toBe(4);
    expect(f.sandbox.library(libraryId)?.files).toHaveLength(40);
  });

  it("by default with an SDK that refreshes proactively: a lone user takes every slot, and 4 while another user waits", async () => {
    const f = fleet(1, new MemoryTokenStore());
    const [aliceLibrary, bobLibrary] = [await authorize(f, "alice"), await authorize(f, "bob")];
    const running = new Map<string, number>();
    const unstarted = new Map<string, number>();
    let mostAlone = 0;
    let mostBesideWaiting = 0;
    f.sandbox.faults.add({ operation: "write", latencyMs: 5 });
    f.clients[0]!.on("write:started", ({ userId }) => {
      running.set(userId, (running.get(userId) ?? 0) + 1);
      unstarted.set(userId, unstarted.get(userId)! - 1);
      const other = userId === "alice" ? "bob" : "alice";
      if ((unstarted.get(other) ?? 0) > 0) mostBesideWaiting = Math.max(mostBesideWaiting, running.get(userId)!);
      else mostAlone = Math.max(mostAlone, running.get(userId)!);
    });
    f.clients[0]!.on("write:succeeded", ({ userId }) => void running.set(userId, running.get(userId)! - 1));
    const write = (user: string, i: number) => {
      unstarted.set(user, (unstarted.get(user) ?? 0) + 1);
      return f.clients[0]!.write(user, jsonFile(i));
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => write("alice", i)));
    expect(mostAlone).toBe(8); // the default global concurrency, not the per-user share
    mostAlone = 0;
    await Promise.all(Array.from({ length: 80 }, (_, i) => write(i % 2 === 0 ? "alice" : "bob", 100 + i)));
    expect(mostBesideWaiting).toBe(4);
    expect(f.sandbox.library(aliceLibrary)?.files).toHaveLength(80);
    expect(f.sandbox.library(bobLibrary)?.files).toHaveLength(40);
  });

  it.each(["v8", "v10"] as const)("SDK %s without digimeApi: a lone user's writes stay one at a time by default, the SDK refreshing inside them", async (version) => {
    const h = setup(version);
    const libraryId = await h.authorize("alice");
    let running = 0;
    let most = 0;
    h.sandbox.faults.add({ operation: "write", latencyMs: 5 });
    h.client.on("write:started", () => void (most = Math.max(most, ++running)));
    h.client.on("write:succeeded", () => void (running -= 1));
    await Promise.all(Array.from({ length: 20 }, (_, i) => h.client.write("alice", jsonFile(i))));
    expect(most).toBe(1);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(20);
  });

  it("survive access tokens revoked early: in-SDK refreshes race, the losers retry with the winner's token, nothing fails", async () => {
    const f = fleet(1, new MemoryTokenStore(), { queue: { concurrency: 8, perUserConcurrency: 8 } });
    const libraryId = await authorize(f, "alice");
    f.sandbox.resetCounters();
    let started = 0;
    f.clients[0]!.on("write:started", () => {
      started += 1;
      if (started % 50 === 0) f.sandbox.expireAccessTokens({ libraryId });
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => f.clients[0]!.write("alice", jsonFile(i))));
    expect(rejections(results)).toEqual([]);
    expect(f.reauthorizations).toBe(0);
    expect(f.sandbox.library(libraryId)?.files.length).toBeGreaterThanOrEqual(200);
    expect(f.sandbox.counters.refreshes).toBeGreaterThanOrEqual(3);
    const stored = await f.store.get({ userId: "alice", contractId: f.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.refreshToken.value).toBe(f.sandbox.latestToken(libraryId)?.refreshToken.value);
  });
});

describe("memory follows active users", () => {
  it("releases an idle user's state after idleUserMs, and close() releases everyone's", async () => {
    const f = fleet(2, new MemoryTokenStore(), { idleUserMs: 50 });
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    for (const user of users) await authorize(f, user);
    const [idle, closing] = f.clients as [WriteClient, WriteClient];
    await Promise.all(users.map((user, i) => idle.write(user, jsonFile(i))));
    await Promise.all(users.map((user, i) => closing.write(user, jsonFile(i))));
    expect(idle.usersInMemory).toBe(30);
    expect(inspect(closing)).toMatch(/usersInMemory: 30/);
    await closing.close();
    expect(closing.usersInMemory).toBe(0);
    // Waiting for the release is the behaviour itself: poll, bounded.
    const deadline = Date.now() + 5_000;
    while (idle.usersInMemory > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(idle.usersInMemory).toBe(0);
    // A released user is read from the store again.
    await expect(idle.write("user-3", jsonFile(99))).resolves.toMatchObject({ status: "delivered" });
    await idle.close();
  });

  it("keeps a user who writes more often than idleUserMs, and releases them no sooner than idleUserMs after their last write", async () => {
    const f = fleet(1, new MemoryTokenStore(), { idleUserMs: 200 });
    await authorize(f, "alice");
    const [client] = f.clients as [WriteClient];
    for (let i = 0; i < 8; i += 1) {
      await client.write("alice", jsonFile(i));
      expect(client.usersInMemory).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await client.write("alice", jsonFile(99));
    const lastWrite = performance.now();
    // Waiting for the release is the behaviour itself: poll, bounded.
    while (client.usersInMemory > 0 && performance.now() - lastWrite < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(client.usersInMemory).toBe(0);
    expect(performance.now() - lastWrite).toBeGreaterThanOrEqual(195);
    await client.close();
  });
});

describe("authorizations across instances", () => {
  async function warningsFor(options: Partial<WriteClientOptions>): Promise<unknown[]> {
    const sandbox = createSandbox();
    const client = new WriteClient({
      sdk: sandbox.sdk("v16"),
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      ...options,
    });
    const warnings: unknown[] = [];
    client.on("config:warning", (event) => warnings.push(event));
    await client.beginAuthorization({ userId: "alice" });
    await client.beginAuthorization({ userId: "bob" });
    await client.close();
    return warnings;
  }

  it("are said once to complete only on this instance when a shared store has no stateSecret nor shared pending store", async () => {
    const directory = await mkdtemp(nodePath.join(tmpdir(), "config-warning-"));
    try {
      const shared = new FileTokenStore({ path: nodePath.join(directory, "tokens.json") });
      expect(await warningsFor({ tokenStore: shared })).toEqual([{ warning: "authorization-not-shared", message: expect.stringMatching(/stateSecret/) }]);
      expect(await warningsFor({ tokenStore: shared, stateSecret: STATE_SECRET })).toEqual([]);
      expect(await warningsFor({ tokenStore: shared, pendingAuthorizations: new MemoryPendingAuthorizationStore() })).toEqual([]);
      // One process's memory store: nothing is shared, nothing to say.
      expect(await warningsFor({})).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe("a refresh slower than its lease", () => {
  it("keeps the lease renewed while it runs: the other process waits for its token instead of presenting the same refresh token", async () => {
    // Real time: the lease (200 ms) expires by the store's clock unless renewed; the refresh takes 800 ms at digi.me.
    const sandbox = createSandbox({ accessTokenLifetimeSeconds: 4 });
    const store = new MemoryTokenStore();
    const clients = Array.from(
      { length: 3 },
      () =>
        new WriteClient({
          sdk: sandbox.sdk("v16"),
          contractDetails: sandbox.contractDetails,
          redirectUri: REDIRECT_URI,
          tokenStore: store,
          stateSecret: STATE_SECRET,
          // The clients see the 4-second token as 1 s from expiry: a refresh is due at once.
          now: () => Date.now() + 3_000,
          refreshCoordination: { leaseMs: 200 },
        }),
    );
    const { url, sealed } = await clients[0]!.beginAuthorization({ userId: "alice" });
    await clients[0]!.completeAuthorization(await sandbox.consent(url, { libraryId: "lib-alice" }), { sealed });
    sandbox.resetCounters();
    sandbox.faults.add({ operation: "refresh", latencyMs: 800 });
    // The two that race have nothing cached: both read the store, both find the token due.
    await Promise.all(clients.slice(1).map((client, i) => client.write("alice", jsonFile(i))));
    expect(sandbox.counters.refreshes).toBeGreaterThanOrEqual(1);
    // Without renewal the second process takes the expired lease 200 ms in and presents the token being spent: refused.
    expect(sandbox.counters.failedRefreshes).toBe(0);
    for (const client of clients) await client.close();
  }, 20_000);
});

describe("a refresh token digi.me refused", () => {
  it("is recorded in the store and presented once across processes; a new authorization clears it for all", async () => {
    const f = fleet(3, new MemoryTokenStore({ now: () => T0 }), { refreshCoordination: { newerTokenWaitMs: 50 } });
    const libraryId = await authorize(f, "alice");
    f.sandbox.expireRefreshTokens({ libraryId });
    f.clock.now += 601_000; // past the access token's life: every process must refresh first
    f.sandbox.resetCounters();
    const results = await Promise.allSettled(f.clients.flatMap((client, c) => [0, 1].map((i) => client.write("alice", jsonFile(c * 2 + i)))));
    expect(rejections(results).map((e) => (e as { code?: string }).code)).toEqual(Array(6).fill("REAUTHORIZATION_REQUIRED"));
    // One process presented it; the others read the refusal from the store instead of presenting it again.
    expect(f.sandbox.counters.failedRefreshes).toBe(1);
    expect(f.reauthorizations).toBeLessThanOrEqual(3);
    expect((await f.store.get({ userId: "alice", contractId: f.sandbox.contractDetails.contractId }))?.refreshTokenRefused).toBe(true);

    const again = f.clients[1]!;
    const { url, sealed } = await again.beginAuthorization({ userId: "alice" });
    await again.completeAuthorization(await f.sandbox.consent(url, { libraryId }), { sealed });
    await Promise.all(f.clients.map((client, c) => client.write("alice", jsonFile(10 + c))));
    for (const client of f.clients) await client.close();
  });
});
