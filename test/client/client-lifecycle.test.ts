import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../../src/index.js";
import { jsonFile, setup } from "../support/setup.js";

describe("queue bounds, abort and shutdown through the client", () => {
  it("refuses writes past maxQueued with QUEUE_FULL, losing none of the accepted ones", async () => {
    const h = setup("v16", { queue: { maxQueued: 5 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.pause();
    const accepted = Array.from({ length: 5 }, (_, i) => h.client.write("alice", jsonFile(i)));
    await expect(h.client.write("alice", jsonFile(99))).rejects.toBeInstanceOf(QueueFullError);
    h.sandbox.resume();
    await Promise.all(accepted);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(5);
  });

  it("aborts a queued write: WRITE_ABORTED, never sent", async () => {
    // One write at a time, so the second one waits in the queue behind the first.
    const h = setup("v16", { queue: { concurrency: 1 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.pause();
    const first = h.client.write("alice", jsonFile(1));
    const controller = new AbortController();
    const second = h.client.write("alice", jsonFile(2), { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toBeInstanceOf(WriteAbortedError);
    h.sandbox.resume();
    await first;
    await h.client.onIdle();
    expect(h.sandbox.library(libraryId)?.files.map((f) => f.fileDescriptor.reference?.[0])).toEqual(["file-1.json"]);
  });

  it("stops retrying once the signal aborts", async () => {
    const h = setup("v16", { retry: { minDelayMs: 50, maxDelayMs: 50, jitter: false } });
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 503 });
    const controller = new AbortController();
    h.client.on("write:retrying", () => controller.abort());
    const error = await h.client.write("alice", jsonFile(1), { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteAbortedError);
    expect(h.sandbox.counters.writeAttempts).toBe(1);
  });

  it("close() drains: everything queued is delivered, then writes are refused", async () => {
    const h = setup("v16", { queue: { concurrency: 2 } });
    const libraryId = await h.authorize("alice");
    const writes = Array.from({ length: 30 }, (_, i) => h.client.write("alice", jsonFile(i)));
    await h.client.close();
    await expect(Promise.all(writes)).resolves.toHaveLength(30);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(30);
    await expect(h.client.write("alice", jsonFile(31))).rejects.toBeInstanceOf(ClientClosedError);
  });

  it("close({ drain: false }) rejects what has not started and lets in-flight writes finish", async () => {
    const h = setup("v16", { queue: { concurrency: 1 } });
    const libraryId = await h.authorize("alice");
    h.sandbox.pause();
    const inFlight = h.client.write("alice", jsonFile(1));
    const queued = Array.from({ length: 5 }, (_, i) => h.client.write("alice", jsonFile(i + 2)));
    await new Promise((r) => setTimeout(r, 10));
    const closing = h.client.close({ drain: false });
    h.sandbox.resume();
    await closing;
    await expect(inFlight).resolves.toMatchObject({ status: "delivered" });
    const outcomes = await Promise.allSettled(queued);
    expect(outcomes.every((o) => o.status === "rejected" && (o.reason as ClientClosedError).code === "CLIENT_CLOSED")).toBe(true);
    expect(h.sandbox.library(libraryId)?.files).toHaveLength(1);
  });

  it("emits queue:idle when the queue empties and onIdle() resolves", async () => {
    const h = setup("v16");
    await h.authorize("alice");
    void h.client.write("alice", jsonFile(1));
    void h.client.write("alice", jsonFile(2));
    await h.client.onIdle();
    expect(h.events.filter((e) => e.name === "queue:idle").map((e) => e.payload)).toEqual([{ settled: 2 }]);
    expect(h.client.queued).toBe(0);
  });

  it("emits the write lifecycle in order", async () => {
    const h = setup("v16");
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 503, times: 1 });
    await h.client.write("alice", jsonFile(1), { id: "w-1" });
    const lifecycle = h.events.filter((e) => e.name.startsWith("write:")).map((e) => e.name);
    expect(lifecycle).toEqual(["write:queued", "write:started", "write:retrying", "write:started", "write:succeeded"]);
  });

  it("gives every write without an id its own UUID-shaped id, the same in its events and receipt", async () => {
    const h = setup("v16", { queue: { concurrency: 16 } });
    await h.authorize("alice");
    // Past 256 writes: the id's last two hex digits wrap there.
    const receipts = await Promise.all(Array.from({ length: 600 }, (_, i) => h.client.write("alice", jsonFile(i))));
    const ids = receipts.map((r) => r.id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(600);
    const succeeded = h.events.filter((e) => e.name === "write:succeeded").map((e) => (e.payload as { id: string }).id);
    expect(new Set(succeeded)).toEqual(new Set(ids));
  });

  it("a throwing listener does not break a write", async () => {
    const h = setup("v16");
    await h.authorize("alice");
    const thrown: unknown[] = [];
    const onUncaught = (e: unknown) => thrown.push(e);
    process.prependListener("uncaughtException", onUncaught);
    try {
      h.client.on("write:started", () => {
        throw new Error("listener bug");
      });
      await expect(h.client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.removeListener("uncaughtException", onUncaught);
    }
    expect(thrown).toHaveLength(1);
  });

  it("inspect shows state, not credentials", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    const token = h.sandbox.latestToken(libraryId);
    const shown = inspect(h.client, { depth: 10 }) + inspect(h.store, { depth: 10 });
    expect(shown).toContain("WriteClient");
    expect(shown).not.toContain(token?.accessToken.value);
    expect(shown).not.toContain(token?.refreshToken.value);
    expect(shown).not.toContain("PRIVATE KEY");
  });
});
