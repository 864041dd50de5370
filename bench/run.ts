/**
 * `npm run bench [-- --quick] [-- --only throughput,cpu] [-- --strict] [-- --repeat N]`
 *
 * Builds the benchmark bundle, runs every benchmark in a child process of its
 * own (fresh heap, --expose-gc), prints one table (WriteClient, the bare
 * baseline, their ratio, the goal) and writes the figures as JSON to
 * bench/results/latest.json. Exits 1 if a benchmark throws; with --strict,
 * also if a goal is missed. `--repeat N` runs the selection N times, prints
 * each run's table and then how many runs met each goal: a goal judged on
 * the lowest of a few rounds is met in some runs and not in others on a
 * noisy machine, and a single run cannot say how often.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BENCHMARKS } from "./benchmarks/index.js";
import { BUILD_DIR, buildBench } from "./lib/build.js";
import { renderTable, type BenchOutcome, type Row } from "./lib/report.js";
import { runInChild } from "./lib/spawn.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const strict = args.includes("--strict");
const repeatIndex = args.indexOf("--repeat");
const repeat = repeatIndex >= 0 ? Number(args[repeatIndex + 1]) : 1;
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error(`--repeat takes a whole number of runs, at least 1 (got ${args[repeatIndex + 1] ?? "nothing"})`);
  process.exit(2);
}
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? "").split(",").filter(Boolean)) : undefined;
const unknown = only === undefined ? [] : [...only].filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  process.exit(2);
}
const selected = BENCHMARKS.filter((b) => only === undefined || only.has(b.name));

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line !== undefined) return line.split(":")[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

const machine = {
  nproc: os.availableParallelism(),
  cpu: cpuModel(),
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
};
const command = `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;

const started = performance.now();
await buildBench();
process.env.BENCH_CHILD = `${BUILD_DIR}child.mjs`;
console.log(`${command}: ${selected.map((b) => b.name).join(", ")}${quick ? " (quick)" : ""} on ${machine.nproc} × ${machine.cpu}, Node ${machine.node}`);

type Results = Record<string, (BenchOutcome & { seconds: number }) | { error: string; seconds: number }>;
interface Run {
  rows: Row[];
  benchmarks: Results;
}
let failed = 0;

/** One run of every selected benchmark, each in a child process of its own; a benchmark that throws is a FAILED row. */
async function runSelected(): Promise<Run> {
  const run: Run = { rows: [], benchmarks: {} };
  for (const benchmark of selected) {
    const t0 = performance.now();
    process.stdout.write(`  ${benchmark.name} … `);
    try {
      const outcome = await runInChild(benchmark.name, { quick, timeoutMs: quick ? 120_000 : 1_200_000 });
      const seconds = (performance.now() - t0) / 1000;
      run.benchmarks[benchmark.name] = { ...outcome, seconds };
      run.rows.push(...outcome.rows);
      console.log(`${seconds.toFixed(1)} s`);
    } catch (error) {
      failed += 1;
      const message = error instanceof Error ? error.message : String(error);
      run.benchmarks[benchmark.name] = { error: message, seconds: (performance.now() - t0) / 1000 };
      run.rows.push({ id: "!", figure: `${benchmark.name}: FAILED — ${message}`, unit: "", client: null, baseline: null });
      console.log("FAILED");
      console.error(`benchmark ${benchmark.name} FAILED: ${message}`);
    }
  }
  console.log(`\n${renderTable(run.rows)}\n`);
  return run;
}

const runs: Run[] = [];
for (let n = 1; n <= repeat; n += 1) {
  if (repeat > 1) console.log(`run ${n} of ${repeat}`);
  runs.push(await runSelected());
}
const { rows, benchmarks: results } = runs[runs.length - 1]!;

const totalSeconds = (performance.now() - started) / 1000;
console.log(`ratio = WriteClient / baseline. Machine: ${machine.nproc} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}. ${totalSeconds.toFixed(0)} s in all.`);

/** Per row with a goal: in how many runs it was met. */
const metIn = new Map<string, { met: number; reference: boolean }>();
for (const run of runs) {
  for (const row of run.rows) {
    if (row.met === undefined) continue;
    const count = metIn.get(row.id) ?? { met: 0, reference: row.reference === true };
    if (row.met) count.met += 1;
    metIn.set(row.id, count);
  }
}
if (repeat > 1) {
  const counts = [...metIn].map(([id, { met, reference }]) => `${id}${reference ? " (reference)" : ""} ${met}/${repeat}`);
  console.log(`goal met in runs: ${counts.join(", ")}`);
}

// Missed in any run; a reference row's goal is never a missed goal.
const missed = [...metIn].filter(([, { met, reference }]) => !reference && met < repeat).map(([id]) => id);
const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const jsonPath = `${resultsDir}latest.json`;
writeFileSync(
  jsonPath,
  `${JSON.stringify(
    {
      generatedAt: new Date().toISOString(),
      command,
      quick,
      machine,
      totalSeconds,
      goalsMissed: missed,
      // The last run's; with --repeat, every run's are under `runs`, and `goalsMetIn` counts the runs meeting each goal.
      rows,
      benchmarks: results,
      table: renderTable(rows),
      ...(repeat > 1 ? { goalsMetIn: Object.fromEntries([...metIn].map(([id, { met }]) => [id, met])), runs } : {}),
    },
    null,
    2,
  )}\n`,
);
console.log(`figures written to ${jsonPath}`);

if (failed > 0) {
  console.error(`\n${failed} benchmark(s) FAILED`);
  process.exit(1);
}
if (missed.length > 0) {
  const message = `goal(s) missed${repeat > 1 ? " in at least one run" : ""}: ${missed.join(", ")}`;
  if (strict) {
    console.error(message);
    process.exit(1);
  }
  console.log(message);
}
