/**
 * Generations A and B with the `digimeApi` option: the client refreshes
 * over digi.me's token endpoint before the SDK has to, so the SDK never
 * spends a refresh token inside a write. The SDK fakes run in process; the
 * client's refresher reaches the same sandbox over `sandbox.listen()`.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../../src/testing/index.js";
import { jsonFile, setup, setupWire, type Harness } from "../support/setup.js";

const opened: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((sandbox) => sandbox.close()));
});

async function wired(version: "v8" | "v10", overrides: Parameters<typeof setupWire>[1] = {}): Promise<Harness & { move(ms: number): void }> {
  let now = Date.UTC(2030, 0, 1);
  const h = await setupWire(version, overrides, { now: () => now, accessTokenLifetimeSeconds: 600 });
  opened.push(h.sandbox);
  return { ...h, move: (ms) => (now += ms) };
}

async function stored(h: Harness, userId: string) {
  return (await h.store.get({ userId, contractId: h.sandbox.contractDetails.contractId }))?.userAccessToken;
}

describe.each(["v8", "v10"] as const)("SDK %s with digimeApi", (version) => {
  it("refreshes over the token endpoint before the write, stores the new pair, and the SDK never refreshes", async () => {
    const h = await wired(version);
    const libraryId = await h.authorize("alice");
    await h.client.write("alice", jsonFile(1));
    h.sandbox.resetCounters();
    h.move(601_000); // past the access token's expiry

    const receipt = await h.client.write("alice", jsonFile(2));
    expect(receipt).toMatchObject({ status: "delivered", attempts: 1, tokenRefreshed: true });
    expect(h.sandbox.counters.refreshes).toBe(1);
    // Stored before use, and it is the pair digi.me issued last: nothing was dropped.
    const latest = h.sandbox.latestToken(libraryId);
    expect((await stored(h, "alice"))?.refreshToken.value).toBe(latest?.refreshToken.value);
    expect((await stored(h, "alice"))?.accessToken.value).toBe(latest?.accessToken.value);
    expect(h.events.filter((e) => e.name === "token:refreshed").map((e) => e.payload)).toEqual([
      expect.objectContaining({ userId: "alice", source: "proactive", persisted: true }),
    ]);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(2);
    // The generation's limitation is lifted, so it is not announced.
    expect(h.events.filter((e) => e.name === "sdk:limitation")).toEqual([]);
  });

  it("refreshes once for many concurrent writes of one user (single flight)", async () => {
    const h = await wired(version, { queue: { concurrency: 16, perUserConcurrency: 16 } });
    const libraryId = await h.authorize("bob");
    h.sandbox.resetCounters();
    h.move(601_000);
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => h.client.write("bob", jsonFile(i))));
    expect(receipts.every((r) => r.status === "delivered")).toBe(true);
    expect(h.sandbox.counters.refreshes).toBe(1);
    expect(h.sandbox.counters.failedRefreshes).toBe(0);
    expect((await stored(h, "bob"))?.refreshToken.value).toBe(h.sandbox.latestToken(libraryId)?.refreshToken.value);
  });

  it("retries a refresh that met a 503, and asks for a new consent when digi.me refuses the refresh token", async () => {
    const h = await wired(version);
    await h.authorize("carol");
    h.move(601_000);
    h.sandbox.faults.add({ endpoint: "token", status: 503, retryAfterSeconds: 0, times: 1 });
    await expect(h.client.write("carol", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 2 });

    h.move(601_000);
    h.sandbox.faults.add({ endpoint: "token", status: 401, errorCode: "InvalidToken", times: 1 });
    await expect(h.client.write("carol", jsonFile(2))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED", userId: "carol" });
    expect(h.events.filter((e) => e.name === "reauthorization:required").map((e) => e.payload)).toEqual([
      expect.objectContaining({ userId: "carol", reason: "refresh-rejected" }),
    ]);
  });
});

describe("without digimeApi, generations A and B say once what the user risks", () => {
  it.each([
    ["v8", "A", "refresh-lost-on-failed-push"],
    ["v10", "B", "refresh-invisible"],
  ] as const)("SDK %s announces %s's limitation once, naming the option", async (version, generation, limitation) => {
    const h = setup(version);
    await h.authorize("erin");
    await h.client.write("erin", jsonFile(1));
    await h.client.write("erin", jsonFile(2));
    const limitations = h.events.filter((e) => e.name === "sdk:limitation").map((e) => e.payload);
    expect(limitations).toEqual([expect.objectContaining({ generation, limitation, message: expect.stringContaining("digimeApi") })]);
  });

  it("SDK 16 has its own refreshToken: nothing to announce, and the option changes nothing", async () => {
    const h = setup("v16", { digimeApi: { applicationId: "not-used", baseUrl: "http://127.0.0.1:9/" } });
    await h.authorize("frank");
    h.sandbox.expireAccessTokens();
    await expect(h.client.write("frank", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
    expect(h.events.filter((e) => e.name === "sdk:limitation")).toEqual([]);
  });
});
