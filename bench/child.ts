/**
 * Runs one benchmark in this process and sends its outcome to the parent
 * (bench/run.ts) over IPC. Started with --expose-gc.
 *   node --expose-gc bench/results/build/child.mjs <name> [--quick] [--arm <arm>]
 * BENCH_THROW=<name> makes that benchmark throw, to check that the runner
 * (and CI) fails loudly.
 */
import { BENCHMARKS } from "./benchmarks/index.js";

const args = process.argv.slice(2);
const name = args[0];
const quick = args.includes("--quick");
const armIndex = args.indexOf("--arm");
const arm = armIndex >= 0 ? args[armIndex + 1] : undefined;

const benchmark = BENCHMARKS.find((b) => b.name === name);
if (benchmark === undefined) {
  console.error(`unknown benchmark "${name}"; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  process.exit(2);
}

try {
  if (process.env.BENCH_THROW === name) throw new Error(`BENCH_THROW=${name}: thrown on purpose`);
  const outcome = await benchmark.run({ quick, arm });
  if (process.send === undefined) {
    console.log(JSON.stringify(outcome, null, 2));
    process.exit(0);
  }
  process.send(outcome, () => process.exit(0));
} catch (error) {
  console.error(`benchmark ${name}${arm ? ` (${arm})` : ""} threw:`, error);
  process.exit(1);
}
