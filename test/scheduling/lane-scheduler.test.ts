import { describe, expect, it } from "vitest";
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../../src/errors.js";
import { LaneScheduler } from "../../src/scheduling/lane-scheduler.js";
import { add, deferred } from "./support.js";

describe("the write queue", () => {
  it("with strict lanes (an SDK that refreshes inside its writes) runs one write per user at a time, several users in parallel", async () => {
    const queue = new LaneScheduler({ concurrency: 4, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: false }, () => {});
    const running = new Map<string, number>();
    let maxPerUser = 0;
    let maxOverall = 0;
    const task = (user: string) => async () => {
      running.set(user, (running.get(user) ?? 0) + 1);
      maxPerUser = Math.max(maxPerUser, running.get(user) ?? 0);
      maxOverall = Math.max(maxOverall, [...running.values()].reduce((a, b) => a + b, 0));
      await new Promise((r) => setTimeout(r, 2));
      running.set(user, (running.get(user) ?? 1) - 1);
    };
    await Promise.all(["a", "b", "c", "d"].flatMap((u) => Array.from({ length: 5 }, () => add(queue, u, 0, undefined, task(u)))));
    expect(maxPerUser).toBe(1);
    expect(maxOverall).toBe(4);
  });

  it("gives a user alone every free slot, whatever their share", async () => {
    const queue = new LaneScheduler({ concurrency: 4, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: true }, () => {});
    let running = 0;
    let most = 0;
    const task = async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 20 }, () => add(queue, "alone", 0, undefined, task)));
    expect(most).toBe(4);
    expect(queue.size).toBe(0);
  });

  it("hands slots a lone user borrowed back to users who arrive: each freed slot goes to a user within their share first", async () => {
    const queue = new LaneScheduler({ concurrency: 4, perUserConcurrency: 1, maxQueued: 1_000, lendIdleSlots: true }, () => {});
    const gates: Array<() => void> = [];
    const order: string[] = [];
    const running = new Map<string, number>();
    const task = (name: string) => () =>
      new Promise<void>((resolve) => {
        const user = name[0]!;
        running.set(user, (running.get(user) ?? 0) + 1);
        order.push(name);
        gates.push(() => {
          running.set(user, running.get(user)! - 1);
          resolve();
        });
      });
    const big = Array.from({ length: 10 }, (_, i) => add(queue, "a", 0, undefined, task(`a${i}`)));
    expect(running.get("a")).toBe(4); // alone: every slot
    const others = ["b", "c", "d"].map((user) => add(queue, user, 0, undefined, task(`${user}0`)));
    // Each slot alice frees goes to a waiting user within their share, not back to her.
    for (let i = 0; i < 3; i += 1) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(order.slice(4, 7)).toEqual(["b0", "c0", "d0"]);
    expect(running.get("a")).toBe(1);
    // With nobody else waiting, alice takes the free slots again.
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...big, ...others]);
    expect(order.filter((name) => name.startsWith("a"))).toHaveLength(10);
  });

  it("keeps a user's writes in order and lets higher priority go first", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const order: string[] = [];
    const first = add(queue, "a", 0, undefined, async () => {
      await gate.promise;
      order.push("first");
    });
    const low = add(queue, "b", 0, undefined, async () => void order.push("low"));
    const high = add(queue, "c", 10, undefined, async () => void order.push("high"));
    gate.resolve();
    await Promise.all([first, low, high]);
    expect(order).toEqual(["first", "high", "low"]);
  });

  it("does not let one busy user hold back the others", async () => {
    const queue = new LaneScheduler({ concurrency: 2, perUserConcurrency: 1, maxQueued: 10_000, lendIdleSlots: true }, () => {});
    const finished: string[] = [];
    const work = (label: string) => async () => {
      await new Promise((r) => setImmediate(r));
      finished.push(label);
    };
    const big = Array.from({ length: 200 }, () => add(queue, "big", 0, undefined, work("big")));
    const small = Array.from({ length: 20 }, (_, i) => add(queue, `small-${i}`, 0, undefined, work("small")));
    await Promise.all([...big, ...small]);
    const lastSmall = finished.lastIndexOf("small");
    // Each small user's only write runs within the first rounds, not after the big user's 200.
    expect(lastSmall).toBeLessThan(60);
  });

  it("refuses writes past maxQueued with QUEUE_FULL and accepts again once drained", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 2, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const a = add(queue, "u", 0, undefined, () => gate.promise);
    const b = add(queue, "u", 0, undefined, async () => {});
    await expect(add(queue, "u", 0, undefined, async () => {})).rejects.toBeInstanceOf(QueueFullError);
    gate.resolve();
    await Promise.all([a, b]);
    await expect(add(queue, "u", 0, undefined, async () => "ok")).resolves.toBe("ok");
  });

  it("aborts a queued write without running it", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 10, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const blocker = add(queue, "u", 0, undefined, () => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const aborted = add(queue, "u", 0, controller.signal, async () => {
      ran = true;
    });
    controller.abort(new Error("user left"));
    await expect(aborted).rejects.toBeInstanceOf(WriteAbortedError);
    gate.resolve();
    await blocker;
    await queue.onIdle();
    expect(ran).toBe(false);
    expect(queue.size).toBe(0);
  });

  it("close(reject) rejects writes that have not started and lets running ones finish", async () => {
    let idleCalls = 0;
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 10 }, () => void idleCalls++);
    const gate = deferred();
    const running = add(queue, "u", 0, undefined, async () => {
      await gate.promise;
      return "done";
    });
    const waiting = add(queue, "v", 0, undefined, async () => "never");
    await new Promise((r) => setImmediate(r));
    queue.close(true);
    await expect(waiting).rejects.toBeInstanceOf(ClientClosedError);
    await expect(add(queue, "w", 0, undefined, async () => "late")).rejects.toBeInstanceOf(ClientClosedError);
    gate.resolve();
    await expect(running).resolves.toBe("done");
    await queue.onIdle();
    expect(idleCalls).toBeGreaterThan(0);
  });
});
