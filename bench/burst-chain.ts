/**
 * Diagnostics, not a benchmark: where figure 1's rate goes. Figure 1 submits
 * every write at once and the SDK fake answers each after a 2 ms timer; the
 * timers of the 16 writes in flight fire in batches (about 11 at once), and a
 * batch's writes are handled one after another: each finished write's
 * reactions, then the start of the write taking its slot. The later a timer
 * of the batch is created, the likelier it crosses into the next millisecond
 * and fires a millisecond later, so the rate follows that per-write "chain"
 * time more than the CPU a write costs in all. Prints, per arm (medians over
 * alternating rounds): the chain time within a batch, the time and CPU of the
 * submitting loop (no write can finish during it), and the CPU per write
 * after it.
 *
 * With `thin`, both sides call an SDK whose `pushData` does nothing but wait
 * 2 ms (no fake behind it): the chain is then the client's own work against
 * the bare queue's, and the time from a timer's firing to the next SDK call
 * (how much of the chain comes before the next write starts) is printed too.
 *   BENCH_EXTRA=burst-chain.ts npx tsx bench/build-only.ts
 *   node --expose-gc bench/results/build/extra.mjs [writes=20000] [pairs=6] [thin]
 */
import { performance } from "node:perf_hooks";
import { collect, lowestPairRatio, median } from "./lib/stats.js";
import { alternateRounds, createWorld, failures, submitAll, submitter, warmUp, type Arm } from "./lib/world.js";

const LATENCY_MS = 2;
const writes = Number(process.argv[2] ?? 20_000);
const pairs = Number(process.argv[3] ?? 6);
const thin = process.argv[4] === "thin";

/** Fires of the fake's latency timers less than this apart belong to one batch. */
const SAME_BATCH_MS = 0.15;
let chainSum = 0;
let chainCount = 0;
let lastFire = 0;
/** Thin SDK only: from a batch's firing to the next SDK call, summed over the writes started within the batch. */
let startSum = 0;
let startCount = 0;
let startPending = false;

/** The thin SDK's write: nothing but the latency timer. */
function thinPushData(): Promise<void> {
  if (startPending) {
    startSum += performance.now() - lastFire;
    startCount += 1;
    startPending = false;
  }
  return new Promise((resolve) => setTimeout(resolve, LATENCY_MS));
}

// Time the fake's latency timers: only they are set for exactly LATENCY_MS (the client and the baseline set none).
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  if (ms !== LATENCY_MS) return realSetTimeout(callback, ms, ...args);
  return realSetTimeout(() => {
    const firedAt = performance.now();
    if (firedAt - lastFire < SAME_BATCH_MS) {
      chainSum += firedAt - lastFire;
      chainCount += 1;
    }
    lastFire = firedAt;
    startPending = true;
    callback(...args);
  }, ms);
}) as typeof setTimeout;

interface Round {
  rate: number;
  chainUs: number;
  /** Thin SDK only: from a timer's firing to the next SDK call. */
  startUs: number;
  loopMs: number;
  loopCpuUs: number;
  afterLoopCpuUs: number;
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.threadCpuUsage(start);
  return used.user + used.system;
}

async function round(arm: Arm): Promise<Round> {
  chainSum = 0;
  chainCount = 0;
  startSum = 0;
  startCount = 0;
  startPending = false;
  const world = await createWorld({ users: 100, concurrency: 16, ...(thin ? { pushData: thinPushData } : { latencyMs: LATENCY_MS }) });
  const send = submitter(world, arm);
  await collect();
  const loopCpu = process.threadCpuUsage();
  const started = performance.now();
  const all = submitAll(writes, send);
  const loopCpuUs = cpuSince(loopCpu);
  const loopEnded = performance.now();
  const afterLoopCpu = process.threadCpuUsage();
  const failed = await failures(all);
  const ended = performance.now();
  const afterLoopCpuUs = cpuSince(afterLoopCpu);
  await world.client.close();
  if (failed !== 0) throw new Error(`${arm}: ${failed} of ${writes} writes failed`);
  return {
    rate: writes / ((ended - started) / 1000),
    chainUs: (chainSum / chainCount) * 1000,
    startUs: (startSum / startCount) * 1000,
    loopMs: loopEnded - started,
    loopCpuUs: loopCpuUs / writes,
    afterLoopCpuUs: afterLoopCpuUs / writes,
  };
}

await warmUp(round);
const rounds = await alternateRounds(pairs, round);
const both = (reading: keyof Round, digits: number): string =>
  `${median(rounds.client.map((r) => r[reading])).toFixed(digits)} / ${median(rounds.baseline.map((r) => r[reading])).toFixed(digits)}`;
const rate = (arm: Arm): number[] => rounds[arm].map((r) => r.rate);
console.log(`${pairs} pairs of ${writes} writes at once, ${LATENCY_MS} ms latency${thin ? ", thin SDK" : ""} (client / baseline):`);
console.log(`  rate ratio ${(median(rate("client")) / median(rate("baseline"))).toFixed(3)}, lowest pair ${lowestPairRatio(rate("client"), rate("baseline")).toFixed(3)}`);
console.log(`  chain within a timer batch: ${both("chainUs", 1)} µs`);
if (thin) console.log(`  from a timer's firing to the next SDK call: ${both("startUs", 1)} µs`);
console.log(`  submitting loop: ${both("loopMs", 1)} ms, ${both("loopCpuUs", 2)} µs CPU per write`);
console.log(`  after the loop: ${both("afterLoopCpuUs", 2)} µs CPU per write`);
