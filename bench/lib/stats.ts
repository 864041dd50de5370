/** Small statistics helpers for the benchmarks. */

/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile `p` (0–100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** p50, p95 and p99 of `values`. */
export function spread(values: readonly number[]): { p50: number; p95: number; p99: number } {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) };
}

/** Wait until the event loop has turned `times` times (lets queued promise chains settle). */
export async function turns(times = 3): Promise<void> {
  for (let i = 0; i < times; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Run `global.gc` (node --expose-gc) a few times so the heap is as small as it gets. */
export async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("This benchmark needs node --expose-gc (bench/run.ts starts its children with it)");
  for (let i = 0; i < 3; i += 1) {
    gc();
    await turns(1);
  }
}

/** client/baseline of each pair of rounds (round i of each arm ran back to back). */
export function pairRatios(client: readonly number[], baseline: readonly number[]): number[] {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(client.length, baseline.length); i += 1) ratios.push(client[i]! / baseline[i]!);
  return ratios;
}

/** The lowest of {@link pairRatios}: what "no round below" goals are judged on. */
export function lowestPairRatio(client: readonly number[], baseline: readonly number[]): number {
  return Math.min(Number.POSITIVE_INFINITY, ...pairRatios(client, baseline));
}

/**
 * Issue 21's throughput goal (figures 1 and 9a): the ratio of the two arms'
 * medians at least 0.98, and no pair of rounds below 0.95.
 */
export function throughputGoal(client: readonly number[], baseline: readonly number[]): { ratio: number; lowest: number; met: boolean } {
  const ratio = median(client) / median(baseline);
  const lowest = lowestPairRatio(client, baseline);
  return { ratio, lowest, met: ratio >= 0.98 && lowest >= 0.95 };
}

/**
 * The median of the differences client − baseline over rounds run in pairs
 * (round i of each arm ran back to back, alternating which went first): a
 * drift of the machine's speed between pairs falls on both sides of each
 * difference, where the difference of two medians would take it in whole.
 */
export function medianPairDifference(client: readonly number[], baseline: readonly number[]): number {
  const differences: number[] = [];
  for (let i = 0; i < Math.min(client.length, baseline.length); i += 1) differences.push(client[i]! - baseline[i]!);
  return median(differences);
}
