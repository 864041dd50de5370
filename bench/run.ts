/**
 * `npm run bench [-- --quick] [-- --only throughput,cpu] [-- --strict]`
 *
 * Builds the benchmark bundle, runs every benchmark in a child process of its
 * own (fresh heap, --expose-gc), prints one table (WriteClient, the bare
 * baseline, their ratio, the goal) and writes the figures as JSON to
 * bench/results/latest.json. Exits 1 if a benchmark throws; with --strict,
 * also if a goal is missed.
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

const results: Record<string, (BenchOutcome & { seconds: number }) | { error: string; seconds: number }> = {};
const rows: Row[] = [];
let failed = 0;
for (const benchmark of selected) {
  const t0 = performance.now();
  process.stdout.write(`  ${benchmark.name} … `);
  try {
    const outcome = await runInChild(benchmark.name, { quick, timeoutMs: quick ? 120_000 : 1_200_000 });
    const seconds = (performance.now() - t0) / 1000;
    results[benchmark.name] = { ...outcome, seconds };
    rows.push(...outcome.rows);
    console.log(`${seconds.toFixed(1)} s`);
  } catch (error) {
    failed += 1;
    const message = error instanceof Error ? error.message : String(error);
    results[benchmark.name] = { error: message, seconds: (performance.now() - t0) / 1000 };
    rows.push({ id: "!", figure: `${benchmark.name}: FAILED — ${message}`, unit: "", client: null, baseline: null });
    console.log("FAILED");
    console.error(`benchmark ${benchmark.name} FAILED: ${message}`);
  }
}

const table = renderTable(rows);
const totalSeconds = (performance.now() - started) / 1000;
console.log(`\n${table}\n`);
console.log(`ratio = WriteClient / baseline. Machine: ${machine.nproc} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}. ${totalSeconds.toFixed(0)} s in all.`);

const missed = rows.filter((row) => row.met === false);
const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const jsonPath = `${resultsDir}latest.json`;
writeFileSync(
  jsonPath,
  `${JSON.stringify({ generatedAt: new Date().toISOString(), command, quick, machine, totalSeconds, goalsMissed: missed.map((row) => row.id), rows, benchmarks: results, table }, null, 2)}\n`,
);
console.log(`figures written to ${jsonPath}`);

if (failed > 0) {
  console.error(`\n${failed} benchmark(s) FAILED`);
  process.exit(1);
}
if (missed.length > 0) {
  const message = `goal(s) missed: ${missed.map((row) => row.id).join(", ")}`;
  if (strict) {
    console.error(message);
    process.exit(1);
  }
  console.log(message);
}
