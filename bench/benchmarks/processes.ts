/**
 * 13. Several processes, one user: 4 worker processes (each its own
 * WriteClient over createHttpSdk) share one FileTokenStore and write for one
 * user through 4-second access tokens. The client coordinates refreshes
 * through the store's lease; the baseline is the same run with the store's
 * leases hidden, so each process refreshes on its own. The figure: refresh
 * calls per token replaced (1 when no refresh token is ever spent twice).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { FileTokenStore } from "../../src/index.js";
import { runFleet, type FleetFigures } from "../../test/support/fleet.js";
import type { Benchmark } from "../lib/report.js";

async function run(leases: boolean, writesPerWorker: number): Promise<FleetFigures> {
  const directory = await mkdtemp(nodePath.join(tmpdir(), "bench-processes-"));
  try {
    const path = nodePath.join(directory, "tokens.json");
    return await runFleet(
      { spec: { kind: "file", path }, open: async () => new FileTokenStore({ path }) },
      { workers: 4, writesPerWorker, gapMs: 100, accessTokenSeconds: 4, leases },
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Refresh calls per token pair actually replaced. */
const perToken = (f: FleetFigures): number => (f.refreshes + f.refusedRefreshes) / Math.max(1, f.refreshes);

export const processes: Benchmark = {
  name: "processes",
  async run({ quick }) {
    const writes = quick ? 60 : 100;
    const client = await run(true, writes);
    const baseline = await run(false, writes);
    const total = `${(4 * writes).toLocaleString("en-US")} writes`;
    return {
      rows: [
        {
          id: "13a",
          figure: `4 processes, one user, one FileTokenStore, 4 s tokens, ${total} — refresh calls per token replaced (baseline: no lease)`,
          unit: "calls",
          client: perToken(client),
          baseline: perToken(baseline),
          goal: "1",
          met: client.refusedRefreshes === 0 && client.refreshes > 0,
        },
        { id: "13b", figure: "several processes — spent refresh tokens presented to digi.me", unit: "count", client: client.refusedRefreshes, baseline: baseline.refusedRefreshes },
        {
          id: "13c",
          figure: "several processes — writes failed (REAUTHORIZATION_REQUIRED or other)",
          unit: "count",
          client: client.failed.length,
          baseline: baseline.failed.length,
          goal: "0",
          met: client.failed.length === 0 && client.delivered === 4 * writes,
        },
      ],
      details: { client, baseline },
    };
  },
};
