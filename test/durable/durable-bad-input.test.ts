/**
 * Bad input to the durable-writes surface is refused at once with a typed
 * error naming the field, before anything reaches Redis.
 */
import { describe, expect, it } from "vitest";
import { ValidationError, MemoryTokenStore, WriteClient } from "../../src/index.js";
import { DirectoryPayloadStore, DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import { createSandbox } from "../../src/testing/index.js";
import { REDIRECT_URI } from "../support/setup.js";

function issuesOf(make: () => unknown): string[] {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("INVALID_OPTIONS");
    return (error as ValidationError).issues.map((i) => i.path).sort();
  }
  throw new Error("expected the constructor to throw");
}

describe("durable writes: bad options", () => {
  it("DurableWriteQueue names each bad option", () => {
    expect(issuesOf(() => new DurableWriteQueue({ connection: { lazyConnect: true }, queueName: "a:b", maxInlineBytes: -1, attempts: 0, payloadStore: {} as never }))).toEqual([
      "options.attempts",
      "options.maxInlineBytes",
      "options.payloadStore",
      "options.queueName",
    ]);
    expect(issuesOf(() => new DurableWriteQueue({ queueName: "q", unknown: 1 } as never))).toEqual(["options.connection", "options.unknown"]);
  });

  it("WriteWorker names each bad option", () => {
    expect(issuesOf(() => new WriteWorker({ client: {} as never, connection: { lazyConnect: true }, queueName: "", concurrency: 0, tokenUpkeep: { everyMs: 1, withinMs: -1 } }))).toEqual([
      "options.client",
      "options.concurrency",
      "options.queueName",
      "options.tokenUpkeep.everyMs",
      "options.tokenUpkeep.withinMs",
    ]);
  });

  it("DirectoryPayloadStore names a bad directory", () => {
    expect(issuesOf(() => new DirectoryPayloadStore({ directory: "" }))).toEqual(["options.directory"]);
  });

  it("enqueue and result refuse bad arguments before touching Redis", async () => {
    // An unreachable Redis: a valid call would fail with QUEUE_UNAVAILABLE, these never get that far.
    const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: 1, lazyConnect: true, retryStrategy: () => null }, queueName: "never-used", enqueueTimeoutMs: 50 });
    const file = { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [] } };
    await expect(queue.enqueue("alice", file, { id: "x".repeat(257) })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("options.id") });
    await expect(queue.enqueue("alice", { ...file, fileName: "" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("fileMeta.fileName") });
    await expect(queue.result("alice", "")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("id") });
    await expect(queue.enqueue("alice", file)).rejects.toMatchObject({ code: "QUEUE_UNAVAILABLE" });
    await queue.close();
  });

  it("refreshExpiring refuses bad options", async () => {
    const sandbox = createSandbox();
    const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: new MemoryTokenStore() });
    await expect(client.refreshExpiring({ withinMs: 1.5 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("withinMs") });
    await expect(client.refreshExpiring({ withinMs: 1, concurrency: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("concurrency") });
    await client.close();
  });
});
