/**
 * Diagnostics, not a benchmark: CPU per write of the client and the bare
 * baseline in one process, in alternating chunks (a world each, built once),
 * so a change of the machine's speed falls on both arms within seconds. For
 * comparing two versions of the code (run it in each tree); the figures of
 * record are the CPU benchmark's (2a–2e), which builds a fresh world per round.
 *   BENCH_EXTRA=cpu-pairs.ts npx tsx bench/build-only.ts
 *   node bench/results/build/extra.mjs [latencyMs=0] [writesPerChunk=5000] [pairs=20] [async-store]
 * `async-store`: the client's `MemoryTokenStore` behind a store that answers
 * with a promise, as a store of the app's own does (the client reads a
 * `MemoryTokenStore` at once).
 */
import { alternateRounds, column, cpuPerWrite, createWorld, drive, storeOfYourOwn, submitter } from "./lib/world.js";
import { median, medianPairDifference } from "./lib/stats.js";

const latencyMs = Number(process.argv[2] ?? 0);
const chunk = Number(process.argv[3] ?? 5_000);
const pairs = Number(process.argv[4] ?? 20);
const asyncStore = process.argv[5] === "async-store";

const worlds = { client: await createWorld({ users: 100, concurrency: 16, latencyMs, ...(asyncStore ? { store: storeOfYourOwn() } : {}) }), baseline: await createWorld({ users: 100, concurrency: 16, latencyMs }) };
const submit = { client: submitter(worlds.client, "client"), baseline: submitter(worlds.baseline, "baseline") };
// Two chunks of each first, uncounted: both arms measured warm.
for (const arm of ["client", "baseline", "client", "baseline"] as const) await drive(chunk, 1_000, submit[arm]);

const rounds = await alternateRounds(pairs, (arm) => cpuPerWrite(arm, chunk, 1_000, submit[arm]));
const process_ = column(rounds, "process");
const mainThread = column(rounds, "mainThread");
const client = median(process_.client);
const baseline = median(process_.baseline);
console.log(
  `${latencyMs} ms${asyncStore ? ", store of your own" : ""}, ${pairs} pairs of ${chunk} writes: client ${client.toFixed(2)} µs, baseline ${baseline.toFixed(2)} µs, ratio ${(client / baseline).toFixed(3)}; ` +
    `above baseline (median of pair differences) ${medianPairDifference(process_.client, process_.baseline).toFixed(2)} µs, main thread ${medianPairDifference(mainThread.client, mainThread.baseline).toFixed(2)} µs`,
);
await worlds.client.client.close();
await worlds.baseline.client.close();
