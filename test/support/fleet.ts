/**
 * Several worker processes writing for one user through one shared token
 * store, against the sandbox served over HTTP from this process: what
 * test/multi-process.test.ts asserts on and bench/benchmarks/processes.ts
 * measures. The workers are test/support/multi-process-worker.ts.
 */
import { existsSync } from "node:fs";
import nodePath from "node:path";
import { fileURLToPath } from "node:url";
import { WriteClient, type TokenStore } from "../../src/index.js";
import { createHttpSdk, createSandbox } from "../../src/testing/index.js";
import type { WorkerConfig, WorkerReport } from "./multi-process-worker.js";
import { runToEnd } from "./worker-process.js";

// Beside this file, or, when a benchmark bundle runs this code from elsewhere, under the project root.
const besides = fileURLToPath(new URL("./multi-process-worker.ts", import.meta.url));
const worker = existsSync(besides) ? besides : nodePath.resolve("test/support/multi-process-worker.ts");
const REDIRECT_URI = "https://app.example/digime/callback";

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
}

/** Authorize one user here, then let the workers write; the figures of the run. */
export async function runFleet(store: SharedStore, options: FleetOptions): Promise<FleetFigures> {
  const sandbox = createSandbox({ accessTokenLifetimeSeconds: options.accessTokenSeconds });
  const server = await sandbox.listen();
  try {
    const endpoints = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
    const parent = new WriteClient({ sdk: createHttpSdk(endpoints), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: await store.open() });
    const { url, sealed } = await parent.beginAuthorization({ userId: "alice" });
    await parent.completeAuthorization(await sandbox.consent(url, { libraryId: "lib-alice" }), { sealed });
    await parent.close();
    sandbox.resetCounters();

    const started = Date.now();
    const reports = await Promise.all(
      Array.from({ length: options.workers }, (_, w) =>
        runToEnd<WorkerReport>(worker, {
          ...endpoints,
          name: `w${w}`,
          contractDetails: sandbox.contractDetails,
          store: store.spec,
          userId: "alice",
          count: options.writesPerWorker,
          gapMs: options.gapMs,
          leases: options.leases ?? true,
          ...(options.refreshWindowMs === undefined ? {} : { refreshWindowMs: options.refreshWindowMs }),
          ...(options.sdkPath === undefined ? {} : { sdkPath: options.sdkPath }),
        }),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    return {
      seconds: Number(seconds.toFixed(1)),
      delivered: reports.reduce((n, r) => n + r.delivered, 0),
      failed: reports.flatMap((r) => r.failed),
      reauthorizationEvents: reports.reduce((n, r) => n + r.reauthorizationEvents, 0),
      refreshes: sandbox.counters.refreshes,
      refusedRefreshes: sandbox.counters.failedRefreshes,
      tokenLives: Number((seconds / options.accessTokenSeconds).toFixed(1)),
      files: sandbox.library("lib-alice")?.files.length ?? 0,
    };
  } finally {
    await sandbox.close();
  }
}
