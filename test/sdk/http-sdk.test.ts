/**
 * `createHttpSdk` (from `digime-write-pipeline/testing`): a generation-C SDK
 * speaking the wire protocol, driven by a WriteClient against the sandbox
 * over `sandbox.listen()`, as a worker process would use it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { FileTokenStore, MemoryTokenStore, WriteClient, type UserAccessToken, type WriteClientEvents } from "../../src/index.js";
import { createHttpSdk, createSandbox, type Sandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";
import { runToEnd } from "../support/worker-process.js";

const opened: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((sandbox) => sandbox.close()));
});

async function harness() {
  let now = Date.UTC(2030, 0, 1);
  const sandbox = createSandbox({ now: () => now, accessTokenLifetimeSeconds: 600 });
  opened.push(sandbox);
  const server = await sandbox.listen();
  const sdk = createHttpSdk({ applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl });
  const store = new MemoryTokenStore({ now: () => now });
  const client = new WriteClient({
    sdk,
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: store,
    stateSecret: STATE_SECRET,
    now: () => now,
    retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 10 },
  });
  const refreshed: Array<WriteClientEvents["token:refreshed"][0]> = [];
  client.on("token:refreshed", (event) => refreshed.push(event));
  const authorize = async (userId: string) => {
    const { url, sealed } = await client.beginAuthorization({ userId });
    const libraryId = `lib-${userId}`;
    await client.completeAuthorization(await sandbox.consent(url, { libraryId }), { sealed });
    return libraryId;
  };
  const stored = async (userId: string) => (await store.get({ userId, contractId: sandbox.contractDetails.contractId }))?.userAccessToken;
  return { sandbox, sdk, client, refreshed, authorize, stored, move: (ms: number) => (now += ms) };
}

describe("a WriteClient on createHttpSdk against sandbox.listen()", () => {
  it("authorizes (authorize, consent, exchange), writes, and the files land in the user's library", async () => {
    const h = await harness();
    const libraryId = await h.authorize("alice");
    expect(h.client.sdkGeneration).toBe("C");
    await expect(h.client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 1 });
    await expect(h.client.write("alice", { ...jsonFile(2), fileData: () => Readable.from([Buffer.from("streamed")]) })).resolves.toMatchObject({ status: "delivered" });
    const files = h.sandbox.library(libraryId)?.files ?? [];
    // (The import endpoint carries no file name, as with the real SDK.)
    expect(files.map((f) => [f.bytes.toString(), f.generation])).toEqual([
      ['{"n":1}', "C"],
      ["streamed", "C"],
    ]);
    expect(files[0]?.fileDescriptor).toEqual(jsonFile(1).fileDescriptor);
    expect((await h.stored("alice"))?.accessToken.value).toBe(h.sandbox.latestToken(libraryId)?.accessToken.value);
  });

  it("refreshes inside pushData when digi.me revoked the access token, and the client stores the announced pair", async () => {
    const h = await harness();
    const libraryId = await h.authorize("bob");
    h.sandbox.resetCounters();
    h.sandbox.expireAccessTokens({ libraryId }); // the client cannot foresee this: the SDK meets a 401
    await expect(h.client.write("bob", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 1, tokenRefreshed: true });
    expect(h.sandbox.counters.refreshes).toBe(1);
    expect(h.refreshed).toEqual([expect.objectContaining({ userId: "bob", source: "write", persisted: true })]);
    expect((await h.stored("bob"))?.refreshToken.value).toBe(h.sandbox.latestToken(libraryId)?.refreshToken.value);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);
  });

  it("is refreshed proactively through refreshToken before an expiry the client can see", async () => {
    const h = await harness();
    const libraryId = await h.authorize("carol");
    h.sandbox.resetCounters();
    h.move(601_000);
    await expect(h.client.write("carol", jsonFile(1))).resolves.toMatchObject({ status: "delivered", tokenRefreshed: true });
    expect(h.sandbox.counters.refreshes).toBe(1);
    expect(h.refreshed).toEqual([expect.objectContaining({ userId: "carol", source: "proactive" })]);
    expect((await h.stored("carol"))?.accessToken.value).toBe(h.sandbox.latestToken(libraryId)?.accessToken.value);
  });

  it("fails as the real SDK does, so the client retries what is transient and stops at what is not", async () => {
    const h = await harness();
    await h.authorize("dave");
    h.sandbox.faults.add({ endpoint: "import", status: 503, retryAfterSeconds: 0, times: 1 });
    await expect(h.client.write("dave", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    h.sandbox.faults.add({ endpoint: "import", network: "ECONNRESET", times: 1 });
    await expect(h.client.write("dave", jsonFile(2))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    // A 401 that is not InvalidToken is thrown without a refresh.
    h.sandbox.resetCounters();
    h.sandbox.faults.add({ endpoint: "import", status: 401, errorCode: "InvalidClient", times: 1 });
    await expect(h.client.write("dave", jsonFile(3))).rejects.toMatchObject({ code: "DELIVERY_REJECTED", httpStatus: 401, sdkErrorCode: "InvalidClient" });
    expect(h.sandbox.counters.refreshes).toBe(0);
  });
});

describe("createHttpSdk on its own", () => {
  it("announces no token when nothing changed, and refuses bad arguments with TypeValidationError", async () => {
    const h = await harness();
    const libraryId = await h.authorize("erin");
    const token = h.sandbox.latestToken(libraryId)!;
    const announced: UserAccessToken[] = [];
    await h.sdk.pushData({ type: "library", contractDetails: h.sandbox.contractDetails, userAccessToken: token, data: jsonFile(1), onAccessTokenChange: (t) => announced.push(t) });
    expect(announced).toEqual([]);
    await expect(h.sdk.pushData({ type: "library", contractDetails: h.sandbox.contractDetails, userAccessToken: {} as never, data: jsonFile(1) })).rejects.toMatchObject({ name: "TypeValidationError" });
    await expect(h.sdk.refreshToken({ contractDetails: { contractId: 1 } as never, userAccessToken: token })).rejects.toMatchObject({ name: "TypeValidationError" });
    // A spent refresh token: the SDK's HTTPError shape, 401 InvalidToken.
    await h.sdk.refreshToken({ contractDetails: h.sandbox.contractDetails, userAccessToken: token });
    await expect(h.sdk.refreshToken({ contractDetails: h.sandbox.contractDetails, userAccessToken: token })).rejects.toMatchObject({
      name: "HTTPError",
      response: { statusCode: 401 },
      error: { code: "InvalidToken" },
    });
  });

  it("refuses options that are not absolute http(s) URLs or lack the application id", () => {
    const valid = { applicationId: "app", baseUrl: "http://127.0.0.1:1/v1.7/", onboardUrl: "http://127.0.0.1:1/apps/saas/" };
    expect(() => createHttpSdk({ ...valid, baseUrl: "/v1.7/" })).toThrow(/baseUrl/);
    expect(() => createHttpSdk({ ...valid, onboardUrl: "ftp://x/" })).toThrow(/onboardUrl/);
    expect(() => createHttpSdk({ ...valid, applicationId: "" })).toThrow(/applicationId/);
    expect(typeof createHttpSdk(valid).pushData).toBe("function");
  });
});

describe("createHttpSdk in other processes", () => {
  /** Run a worker to its end; its one JSON line of outcomes. */
  const runWorker = (config: Record<string, unknown>) => runToEnd<{ delivered: number; failed: string[] }>("./http-sdk-worker.ts", config);

  it("two workers write for one user authorized by the parent, through one sandbox and one token store", async () => {
    const directory = await mkdtemp(nodePath.join(tmpdir(), "http-sdk-"));
    try {
      const sandbox = createSandbox();
      opened.push(sandbox);
      const server = await sandbox.listen();
      const storePath = nodePath.join(directory, "tokens.json");
      const parent = new WriteClient({
        sdk: createHttpSdk({ applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl }),
        contractDetails: sandbox.contractDetails,
        redirectUri: REDIRECT_URI,
        tokenStore: new FileTokenStore({ path: storePath }),
      });
      const { url, sealed } = await parent.beginAuthorization({ userId: "alice" });
      await parent.completeAuthorization(await sandbox.consent(url, { libraryId: "lib-alice" }), { sealed });
      await parent.close();

      const shared = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl, contractDetails: sandbox.contractDetails, storePath, userId: "alice", count: 10 };
      const results = await Promise.all([runWorker({ ...shared, name: "one" }), runWorker({ ...shared, name: "two" })]);
      expect(results).toEqual([
        { delivered: 10, failed: [] },
        { delivered: 10, failed: [] },
      ]);
      const bytes = (sandbox.library("lib-alice")?.files ?? []).map((f) => f.bytes.toString()).sort();
      expect(bytes).toEqual([...Array.from({ length: 10 }, (_, i) => `one-${i}`), ...Array.from({ length: 10 }, (_, i) => `two-${i}`)].sort());
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 60_000);
});
