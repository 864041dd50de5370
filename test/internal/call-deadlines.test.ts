import { describe, expect, it } from "vitest";
import { CallDeadlines } from "../../src/internal/call-deadlines.js";

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
