/**
 * One user cannot fill the queue for everyone, and queued payloads have a
 * byte budget: past either bound `write` rejects with `QUEUE_FULL` (saying
 * which bound) and nothing is enqueued.
 */
import { describe, expect, it } from "vitest";
import { QueueFullError, ValidationError, WriteClient, type DigimeSdk } from "../../src/index.js";
import { LaneScheduler } from "../../src/scheduling/lane-scheduler.js";
import type { Scheduler } from "../../src/scheduling/scheduler.js";
import { deferred } from "./support.js";
import { jsonFile, REDIRECT_URI, setup, STATE_SECRET } from "../support/setup.js";


/** Admit a write of `userId` that runs until `gate` opens and records that it settled; or return why it was refused. */
function enqueue(scheduler: Scheduler, userId: string, gate: Promise<void>, settled: string[], label: string, bytes = 0): Error | undefined {
  const ticket = scheduler.admit({ userId, priority: 0, bytes });
  if (ticket instanceof Error) return ticket;
  void (async () => {
    await ticket.turn();
    await gate;
    ticket.release();
    settled.push(label);
  })();
  return undefined;
}

describe("queue bounds", () => {
  it("refuses a user's writes past maxQueuedPerUser while other users still get in, and accepts again as that user's writes settle", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 100, maxQueuedPerUser: 3, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const settled: string[] = [];
    for (let i = 0; i < 3; i += 1) expect(enqueue(queue, "greedy", gate.promise, settled, `g${i}`)).toBeUndefined();
    const refused = enqueue(queue, "greedy", gate.promise, settled, "g3");
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refused).toMatchObject({ code: "QUEUE_FULL", reason: "per-user", limit: 3 });
    expect((refused as Error).message).toContain("maxQueuedPerUser");
    expect(enqueue(queue, "other", gate.promise, settled, "o0")).toBeUndefined();
    expect(queue.size).toBe(4);
    gate.resolve();
    await queue.onIdle();
    expect(settled.sort()).toEqual(["g0", "g1", "g2", "o0"]);
    expect(enqueue(queue, "greedy", Promise.resolve(), settled, "g4")).toBeUndefined();
  });

  it("refuses a write whose payload would pass maxQueuedBytes, counts streams as 0, and frees the bytes as writes settle", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 100, maxQueuedBytes: 1000, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const settled: string[] = [];
    // A single write over the budget is accepted into a byte-free queue: it could never be written otherwise.
    expect(enqueue(queue, "a", gate.promise, settled, "huge", 5000)).toBeUndefined();
    const refused = enqueue(queue, "b", gate.promise, settled, "next", 1);
    expect(refused).toMatchObject({ code: "QUEUE_FULL", reason: "bytes", limit: 1000 });
    expect(enqueue(queue, "b", gate.promise, settled, "stream", 0)).toBeUndefined();
    gate.resolve();
    await queue.onIdle();
    expect(enqueue(queue, "b", gate.promise, settled, "a", 600)).toBeUndefined();
    expect(enqueue(queue, "c", gate.promise, settled, "b", 400)).toBeUndefined();
    expect(enqueue(queue, "d", gate.promise, settled, "c", 1)).toMatchObject({ reason: "bytes" });
    await queue.onIdle();
  });

  it("applies both through WriteClient: a user at the limit gets QUEUE_FULL and nothing is delivered for that write", async () => {
    const gate = deferred();
    const blocking = (sdk: DigimeSdk): DigimeSdk =>
      new Proxy(sdk, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver) as unknown;
          if (name !== "pushData" || typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            await gate.promise;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const h = setup("v16", { queue: { concurrency: 1, maxQueuedPerUser: 2, maxQueuedBytes: 10_000 } });
    // Same sandbox, an SDK whose writes wait at the gate: writes stay queued until it opens.
    const client = new WriteClient({
      sdk: blocking(h.sandbox.sdk("v16")),
      contractDetails: h.sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: h.store,
      stateSecret: STATE_SECRET,
      now: h.sandbox.now,
      queue: { concurrency: 1, maxQueuedPerUser: 2, maxQueuedBytes: 10_000 },
    });
    await h.authorize("alice");
    await h.authorize("bob");
    const first = [client.write("alice", jsonFile(1)), client.write("alice", jsonFile(2))];
    await expect(client.write("alice", jsonFile(3))).rejects.toMatchObject({ code: "QUEUE_FULL", reason: "per-user" });
    const big = { ...jsonFile(4), fileData: Buffer.alloc(20_000) };
    await expect(client.write("bob", big)).rejects.toMatchObject({ code: "QUEUE_FULL", reason: "bytes" });
    const bobs = client.write("bob", jsonFile(5));
    gate.resolve();
    await Promise.all([...first, bobs]);
    const delivered = h.sandbox.libraries().flatMap((library) => library.files.map((file) => file.fileDescriptor.reference?.[0]));
    expect(delivered.sort()).toEqual(["file-1.json", "file-2.json", "file-5.json"]);
    await client.close();
  });

  it.each([
    ["maxQueuedPerUser: 0", { maxQueuedPerUser: 0 }, "options.queue.maxQueuedPerUser"],
    ["maxQueuedPerUser: 1.5", { maxQueuedPerUser: 1.5 }, "options.queue.maxQueuedPerUser"],
    ["maxQueuedBytes: -1", { maxQueuedBytes: -1 }, "options.queue.maxQueuedBytes"],
  ])("refuses %s naming the field", (_name, queue, path) => {
    expect(() => setup("v16", { queue })).toThrow(ValidationError);
    expect(() => setup("v16", { queue })).toThrow(path);
  });
});
