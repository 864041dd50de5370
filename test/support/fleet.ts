/**
 * Several worker processes writing for one user through one shared token
 * store, against the sandbox served over HTTP from this process: what
 * test/reliability/multi-process.test.ts asserts on and bench/benchmarks/processes.ts
 * measures. The workers are test/support/multi-process-worker.ts.
 */
import { existsSync } from "node:fs";
import nodePath from "node:path";
import { fileURLToPath } from "node:url";
import type { TokenStore } from "../../src/index.js";
import { createHttpSdk, createSandbox, type Sandbox } from "../../src/testing/index.js";
import type { WorkerConfig, WorkerReport } from "./multi-process-worker.js";
import { testClient } from "./test-client.js";
import { startWorker, type WorkerProcess } from "./worker-process.js";

// Beside this file, or, when a benchmark bundle runs this code from elsewhere, under the project root.
const besides = fileURLToPath(new URL("./multi-process-worker.ts", import.meta.url));
const worker = existsSync(besides) ? besides : nodePath.resolve("test/support/multi-process-worker.ts");

/** A store as the workers open it, and the same store opened here to authorize the user. */
export interface SharedStore {
  spec: WorkerConfig["store"];
  open(): Promise<TokenStore>;
}

/** How a fleet runs. */
export interface FleetOptions {
  workers: number;
  writesPerWorker: number;
  /** Between two writes of a worker. */
  gapMs: number;
  accessTokenSeconds: number;
  /** Unset: the library's default. */
  refreshWindowMs?: number | undefined;
  /** `false`: the workers' store hides its refresh leases (each process refreshes on its own). */
  leases?: boolean | undefined;
  /** A built real SDK of generation C to use instead of createHttpSdk. */
  sdkPath?: string | undefined;
  /** Passed to every worker's WriteClient. Unset: the library's defaults. */
  refreshCoordination?: WorkerConfig["refreshCoordination"];
  /** Runs while the workers write (a server to kill, backends to end); the run ends when both are done. */
  during?: ((run: FleetRun) => Promise<void>) | undefined;
}

/** What `during` can see and do while the fleet runs. */
export interface FleetRun {
  readonly sandbox: Sandbox;
  readonly workers: readonly WorkerProcess[];
  /** Files delivered to the user's library so far. */
  files(): number;
  /** Resolves once at least `count` files are delivered (polled, never a fixed wait). */
  filesReach(count: number): Promise<void>;
  /** SIGKILL worker `index`; its writes count neither as delivered nor as failed, and its exit is no crash. */
  kill(index: number): void;
}

/** What a fleet run shows. */
export interface FleetFigures {
  seconds: number;
  delivered: number;
  failed: string[];
  reauthorizationEvents: number;
  /** Refresh calls digi.me answered with a new pair. */
  refreshes: number;
  /** Refresh calls digi.me refused: a spent refresh token presented again. */
  refusedRefreshes: number;
  /** The tokens' lifetimes the run spanned. */
  tokenLives: number;
  /** Files in the user's library. */
  files: number;
  /** Longest time between two deliveries, across every worker, in ms (from each worker's first delivery to the last). */
  longestGapMs: number;
  /** Each worker's report; `undefined` for one killed by `during`. */
  reports: Array<WorkerReport | undefined>;
}

/** Authorize one user here, then let the workers write; the figures of the run. */
export async function runFleet(store: SharedStore, options: FleetOptions): Promise<FleetFigures> {
  const sandbox = createSandbox({ accessTokenLifetimeSeconds: options.accessTokenSeconds });
  const server = await sandbox.listen();
  try {
    const endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
    const parent = testClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, tokenStore: await store.open() });
    const { url, sealed } = await parent.beginAuthorization({ userId: "alice" });
    await parent.completeAuthorization(await sandbox.consent(url, { libraryId: "lib-alice" }), { sealed });
    await parent.close();
    sandbox.resetCounters();

    const started = Date.now();
    const killed = new Set<number>();
    const workers = Array.from({ length: options.workers }, (_, w) =>
      startWorker(worker, {
        ...endpoints,
        name: `w${w}`,
        contractDetails: sandbox.contractDetails,
        store: store.spec,
        userId: "alice",
        count: options.writesPerWorker,
        gapMs: options.gapMs,
        leases: options.leases ?? true,
        ...(options.refreshWindowMs === undefined ? {} : { refreshWindowMs: options.refreshWindowMs }),
        ...(options.refreshCoordination === undefined ? {} : { refreshCoordination: options.refreshCoordination }),
        ...(options.sdkPath === undefined ? {} : { sdkPath: options.sdkPath }),
      } satisfies WorkerConfig),
    );
    for (const w of workers) w.child.stdin!.end();
    const files = (): number => sandbox.library("lib-alice")?.files.length ?? 0;
    const run: FleetRun = {
      sandbox,
      workers,
      files,
      filesReach: async (count) => {
        while (files() < count) await new Promise((resolve) => setTimeout(resolve, 20));
      },
      kill: (index) => {
        killed.add(index);
        workers[index]!.child.kill("SIGKILL");
      },
    };
    const ended = Promise.all(
      workers.map(async (w, index): Promise<WorkerReport | undefined> => {
        // "close", not "exit": stdout may still hold the last line when the process has exited.
        const code = await new Promise<number | null>((resolve) => w.child.once("close", (exitCode) => resolve(exitCode)));
        if (killed.has(index)) return undefined;
        const last = w.messages.at(-1);
        if (code !== 0 || last === undefined || !("delivered" in last)) throw new Error(`worker w${index} exited with ${code} (a crash): ${w.stderr().slice(-2000)}`);
        return last as unknown as WorkerReport;
      }),
    );
    const [reports] = await Promise.all([ended, options.during?.(run)]);
    const seconds = (Date.now() - started) / 1000;
    return {
      seconds: Number(seconds.toFixed(1)),
      delivered: reports.reduce((n, r) => n + (r?.delivered ?? 0), 0),
      failed: reports.flatMap((r) => r?.failed ?? []),
      reauthorizationEvents: reports.reduce((n, r) => n + (r?.reauthorizationEvents ?? 0), 0),
      refreshes: sandbox.counters.refreshes,
      refusedRefreshes: sandbox.counters.failedRefreshes,
      tokenLives: Number((seconds / options.accessTokenSeconds).toFixed(1)),
      files: files(),
      longestGapMs: longestGap(reports.flatMap((r) => r?.deliveredAt ?? [])),
      reports,
    };
  } finally {
    await sandbox.close();
  }
}

function longestGap(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < sorted.length; i += 1) longest = Math.max(longest, sorted[i]! - sorted[i - 1]!);
  return longest;
}
