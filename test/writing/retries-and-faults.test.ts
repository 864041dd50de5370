import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { DeliveryError } from "../../src/index.js";
import { GENERATIONS, jsonFile, setup } from "../support/setup.js";

describe.each(GENERATIONS)("transient faults are retried and delivered (SDK %s)", (version) => {
  it.each([
    ["two 503s", { status: 503, times: 2 }, 3],
    ["a 500 with digi.me's error body", { status: 500, errorCode: "InternalServerError", times: 1 }, 2],
    ["a 429 with Retry-After", { status: 429, retryAfterSeconds: 1, times: 1 }, 2],
    ["a 408", { status: 408, times: 1 }, 2],
    ["a connection reset", { network: "ECONNRESET" as const, times: 1 }, 2],
    ["a refused connection", { network: "ECONNREFUSED" as const, times: 2 }, 3],
    ["a timeout", { network: "ETIMEDOUT" as const, times: 1 }, 2],
  ])("%s", async (_name, rule, attempts) => {
    const h = setup(version);
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ operation: "write", ...rule });
    const receipt = await h.client.write("alice", jsonFile(1));
    expect(receipt).toMatchObject({ status: "delivered", attempts });
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);
    const retrying = h.events.filter((e) => e.name === "write:retrying");
    expect(retrying).toHaveLength(attempts - 1);
    // Each carries that attempt's own error, not the one the write would end with if retries ran out.
    for (const event of retrying) expect((event.payload as { error: { code: string } }).error).toMatchObject({ code: "DELIVERY_ATTEMPT_FAILED", retryable: true });
  });
});

describe("retry policy details", () => {
  it("waits as long as Retry-After asks (capped by maxRetryAfterMs)", async () => {
    const h = setup("v16", { retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 300 } });
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 429, retryAfterSeconds: 10, times: 1 });
    const started = performance.now();
    await h.client.write("alice", jsonFile(1));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(h.events.find((e) => e.name === "write:retrying")?.payload).toMatchObject({ attempt: 1, delayMs: 300 });
  });

  it("reports a reset after the server accepted as a possible duplicate", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, times: 1 });
    const receipt = await h.client.write("alice", jsonFile(1));
    expect(receipt).toMatchObject({ status: "delivered", attempts: 2, possibleDuplicate: true });
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(2);
  });

  it("makes streamed writes retryable through a factory", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ status: 503, times: 1 });
    let opened = 0;
    const receipt = await h.client.write("alice", {
      fileData: () => {
        opened += 1;
        return Readable.from([Buffer.from("streamed "), Buffer.from("bytes")]);
      },
      fileName: "s.txt",
      fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }] },
    });
    expect(receipt.attempts).toBe(2);
    expect(opened).toBe(2);
    expect(h.sandbox.library(libraryId)?.files[0]?.bytes.toString()).toBe("streamed bytes");
  });
});

describe.each(GENERATIONS)("terminal faults fail fast with the right code (SDK %s)", (version) => {
  it.each([
    ["a 400", { status: 400, errorCode: "InvalidRequest" }, "DELIVERY_REJECTED", 1],
    ["a 403", { status: 403, errorCode: "InsufficientScope" }, "DELIVERY_REJECTED", 1],
    ["a 404 without body", { status: 404 }, "DELIVERY_REJECTED", 1],
    ["a DNS failure", { network: "EAI_AGAIN" as const }, "DELIVERY_RETRIES_EXHAUSTED", 4],
    ["503 forever", { status: 503 }, "DELIVERY_RETRIES_EXHAUSTED", 4],
  ])("%s → %s after %i attempt(s)", async (_name, rule, code, attempts) => {
    const h = setup(version, { retry: { retries: 3, minDelayMs: 1, maxDelayMs: 2 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.faults.add({ operation: "write", ...rule });
    const error = await h.client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ code, attempts });
    expect(h.sandbox.library(libraryId)?.files ?? []).toHaveLength(0);
    expect(h.events.filter((e) => e.name === "write:failed").map((e) => e.payload)).toMatchObject([{ attempts, error: { code } }]);
  });

  it("a plain Readable gets one attempt only: STREAM_NOT_RETRYABLE", async () => {
    const h = setup(version);
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 503, times: 1 });
    const error = await h.client
      .write("alice", { fileData: Readable.from([Buffer.from("x")]), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [] } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "STREAM_NOT_RETRYABLE", attempts: 1, retryable: true });
  });
});

describe("a file factory that fails", () => {
  it("is refused as INVALID_ARGUMENT naming fileData, without retries and without calling the SDK", async () => {
    const h = setup("v16");
    await h.authorize("alice");
    h.sandbox.resetCounters();
    const error = await h.client
      .write("alice", {
        fileData: () => {
          throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
        },
        fileName: "gone.txt",
        fileDescriptor: { mimeType: "text/plain", accounts: [] },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((error as Error).message).toContain("fileMeta.fileData");
    expect(h.sandbox.counters.writeAttempts).toBe(0);
  });
});

describe("a postbox that answers pending (generation A)", () => {
  it("is retried, never reported as delivered before the file is taken, and flagged as a possible duplicate", async () => {
    const h = setup("v8");
    const libraryId = await h.authorize("alice");
    const { WriteClient } = await import("../../src/index.js");
    const real = h.sandbox.sdk("v8");
    let pendingAnswers = 1;
    const sdk: typeof real = {
      getAuthorizeUrl: (o) => real.getAuthorizeUrl(o),
      exchangeCodeForToken: (o) => real.exchangeCodeForToken(o),
      write: async (o) => {
        if (pendingAnswers > 0) {
          pendingAnswers -= 1;
          return { status: "pending", expires: 0, userAccessToken: o.userAccessToken };
        }
        return real.write(o);
      },
    };
    const client = new WriteClient({
      sdk,
      contractDetails: h.sandbox.contractDetails,
      redirectUri: "https://app.example/digime/callback",
      tokenStore: h.store,
      retry: { minDelayMs: 1, maxDelayMs: 2 },
    });
    const receipt = await client.write("alice", jsonFile(1));
    expect(receipt).toMatchObject({ status: "delivered", attempts: 2, possibleDuplicate: true });
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);

    pendingAnswers = 100;
    const error = await client.write("alice", jsonFile(2)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "DELIVERY_RETRIES_EXHAUSTED", possiblyDelivered: true });
  });
});
