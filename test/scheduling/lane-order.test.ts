import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { LaneScheduler } from "../../src/scheduling/lane-scheduler.js";
import { add, deferred } from "./support.js";

describe("write queue lanes and workers", () => {
  it("runs every write in the async context of the call that queued it, also after waiting in its lane", async () => {
    const queue = new LaneScheduler({ concurrency: 2, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: true }, () => {});
    const als = new AsyncLocalStorage<string>();
    const seen: Array<[string, string | undefined]> = [];
    const task = (name: string) => async () => {
      seen.push([name, als.getStore()]);
      await new Promise((r) => setTimeout(r, 1));
      seen.push([name, als.getStore()]);
    };
    const all = ["a1", "a2", "a3", "b1", "b2"].map((name) => als.run(`ctx-${name}`, () => add(queue, name[0]!, 0, undefined, task(name))));
    await Promise.all(all);
    expect(seen).toHaveLength(10);
    for (const [name, store] of seen) expect(store).toBe(`ctx-${name}`);
  });

  it("lets users take turns: a user's next write waits behind the users that were ready before it", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const order: string[] = [];
    const task = (name: string) => async () => {
      if (name === "a1") await gate.promise;
      order.push(name);
    };
    const all = ["a1", "a2", "a3", "b1", "c1", "b2"].map((name) => add(queue, name[0]!, 0, undefined, task(name)));
    gate.resolve();
    await Promise.all(all);
    expect(order).toEqual(["a1", "b1", "c1", "a2", "b2", "a3"]);
  });

  it("gives a free worker to a user with nothing running before another write of a user who has one running", async () => {
    // One worker, two writes per user allowed: alice's second write is ready while her first runs, then bob arrives.
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 2, maxQueued: 100, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const order: string[] = [];
    const task = (name: string) => async () => {
      if (name === "a1") await gate.promise;
      order.push(name);
    };
    const all = [add(queue, "a", 0, undefined, task("a1")), add(queue, "a", 0, undefined, task("a2"))];
    all.push(add(queue, "b", 0, undefined, task("b1")));
    gate.resolve();
    await Promise.all(all);
    expect(order).toEqual(["a1", "b1", "a2"]);
  });

  it("moves a waiting user up when a higher-priority write joins the head of its lane", async () => {
    const queue = new LaneScheduler({ concurrency: 1, perUserConcurrency: 1, maxQueued: 100, lendIdleSlots: true }, () => {});
    const gate = deferred();
    const order: string[] = [];
    const task = (name: string) => async () => {
      if (name === "x") await gate.promise;
      order.push(name);
    };
    const all = [add(queue, "x", 0, undefined, task("x")), add(queue, "a", 0, undefined, task("a0")), add(queue, "b", 0, undefined, task("b0"))];
    all.push(add(queue, "b", 5, undefined, task("b5")));
    gate.resolve();
    await Promise.all(all);
    expect(order).toEqual(["x", "b5", "a0", "b0"]);
  });

  it("never runs more than concurrency writes, nor (with strict lanes) more than perUserConcurrency of one user", async () => {
    const queue = new LaneScheduler({ concurrency: 3, perUserConcurrency: 2, maxQueued: 1_000, lendIdleSlots: false }, () => {});
    let overall = 0;
    let maxOverall = 0;
    const perUser = new Map<string, number>();
    let maxPerUser = 0;
    const task = (user: string) => async () => {
      overall += 1;
      perUser.set(user, (perUser.get(user) ?? 0) + 1);
      maxOverall = Math.max(maxOverall, overall);
      maxPerUser = Math.max(maxPerUser, perUser.get(user)!);
      expect(queue.running).toBe(overall);
      await new Promise((r) => setTimeout(r, Math.random() * 2));
      overall -= 1;
      perUser.set(user, perUser.get(user)! - 1);
    };
    await Promise.all(Array.from({ length: 200 }, (_, i) => add(queue, `u${i % 4}`, i % 3, undefined, task(`u${i % 4}`))));
    expect(maxOverall).toBe(3);
    expect(maxPerUser).toBe(2);
    expect(queue.size).toBe(0);
    expect(queue.running).toBe(0);
  });
});
