import { describe, expect, it } from "vitest";
import { CallDeadlines, settledWithin } from "../../src/internal/call-deadlines.js";

const never = () => new Promise<never>(() => {});
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("call deadlines: one timer for many store calls", () => {
  it("passes answers and failures through, a synchronous throw included", async () => {
    const deadlines = new CallDeadlines(1_000, (label) => new Error(`${label} timed out`));
    await expect(deadlines.run("get", async () => 42)).resolves.toBe(42);
    await expect(deadlines.run("get", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(
      deadlines.run("get", () => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
  });

  it("gives up on each call when its own time is up, in the order they started, and ignores late answers", async () => {
    const deadlines = new CallDeadlines(40, (label) => new Error(`${label} timed out`));
    const started = performance.now();
    const first = deadlines.run("first", never);
    await later(15, undefined);
    const second = deadlines.run("second", () => later(100, "too late"));
    const fast = deadlines.run("fast", () => later(5, "fast"));
    const settledAt: Record<string, number> = {};
    const track = (name: string, promise: Promise<unknown>) => promise.catch((error: Error) => ((settledAt[name] = performance.now() - started), error.message));
    const [a, b, c] = await Promise.all([track("first", first), track("second", second), fast]);
    expect([a, b, c]).toEqual(["first timed out", "second timed out", "fast"]);
    expect(settledAt.first).toBeGreaterThanOrEqual(39);
    expect(settledAt.second).toBeGreaterThanOrEqual(54);
  });
});

describe("settledWithin: a time limit on one call", () => {
  it("gives the call's outcome when it settles in time, and undefined when it does not", async () => {
    await expect(settledWithin(later(5, "fast"), 1_000)).resolves.toEqual({ status: "fulfilled", value: "fast" });
    const boom = new Error("boom");
    await expect(settledWithin(Promise.reject(boom), 1_000)).resolves.toEqual({ status: "rejected", reason: boom });
    // The late call's rejection is handled: no unhandled rejection fails the run.
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error("late")), 60));
    await expect(settledWithin(late, 20)).resolves.toBeUndefined();
    await later(60, undefined);
  });

  it("ends the wait when the signal aborts, as a rejection with its reason", async () => {
    const lost = new AbortController();
    const started = performance.now();
    const waiting = settledWithin(never(), 1_000, lost.signal);
    setTimeout(() => lost.abort(new Error("connection lost")), 10);
    const outcome = await waiting;
    expect(outcome).toMatchObject({ status: "rejected", reason: { message: "connection lost" } });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("lets a call that settled already win over a signal aborted already", async () => {
    const aborted = AbortSignal.abort(new Error("not connected"));
    await expect(settledWithin(Promise.resolve(42), 1_000, aborted)).resolves.toEqual({ status: "fulfilled", value: 42 });
    await expect(settledWithin(never(), 1_000, aborted)).resolves.toMatchObject({ status: "rejected", reason: { message: "not connected" } });
  });
});
