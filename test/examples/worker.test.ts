import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(fileURLToPath(import.meta.url), "../../..");
// One process (no tsx CLI in between), so the signal reaches the worker itself.
const loader = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href;

interface LogLine {
  event: string;
  [field: string]: unknown;
}

/** Start the worker; resolves `waitFor` when a line matching the predicate is logged. */
function startWorker(env: Record<string, string> = {}) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--import", loader, "examples/worker.ts"], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  const lines: LogLine[] = [];
  const waiters: Array<{ test: (line: LogLine) => boolean; resolve: () => void }> = [];
  let buffered = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as LogLine;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitFor: (test: (line: LogLine) => boolean) => new Promise<void>((resolve) => waiters.push({ test, resolve })),
  };
}

describe("examples/worker.ts", () => {
  it("finishes every queued write after SIGTERM, then exits 0", async () => {
    const worker = startWorker({ WORKER_WRITES: "60" });
    let deliveredBeforeSignal = 0;
    await worker.waitFor((line) => line.event === "write:delivered" && ++deliveredBeforeSignal === 5);
    worker.child.kill("SIGTERM");

    expect(await worker.exited, worker.stderr()).toBe(0);
    const draining = worker.lines.find((l) => l.event === "shutdown:draining");
    expect(draining).toMatchObject({ signal: "SIGTERM" });
    expect(draining!.queued).toBeGreaterThan(0); // the signal came mid-batch
    const afterSignal = worker.lines.slice(worker.lines.indexOf(draining!)).filter((l) => l.event === "write:delivered");
    expect(afterSignal.length).toBeGreaterThanOrEqual(draining!.queued as number);
    expect(worker.lines.at(-1)).toMatchObject({ event: "stopped", signal: "SIGTERM", accepted: 60, delivered: 60, verified: 60, failed: 0, lost: 0, unsavedTokens: [] });
    expect(worker.lines.filter((l) => l.event === "write:delivered")).toHaveLength(60);
  }, 60_000);

  it("stops at once on a second signal and exits 1, saying how much was still queued", async () => {
    const worker = startWorker({ WORKER_WRITES: "200" });
    await worker.waitFor((line) => line.event === "write:delivered");
    worker.child.kill("SIGTERM");
    await worker.waitFor((line) => line.event === "shutdown:draining");
    worker.child.kill("SIGTERM");

    expect(await worker.exited).toBe(1);
    const forced = worker.lines.find((l) => l.event === "shutdown:forced");
    expect(forced).toBeDefined();
    expect(forced!.queued).toBeGreaterThan(0);
  }, 60_000);
});
