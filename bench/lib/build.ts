/**
 * Bundles bench/child.ts and bench/profile.ts with the library's source into
 * bench/results/build/, the way tsup builds dist/ (esbuild, no `keepNames`),
 * so the benchmarks measure the code users get, not tsx's on-the-fly
 * transform (which wraps every closure in a `__name` call). Dependencies
 * (p-queue, zod, …) stay external, as in dist/. Entries: child.mjs (what the
 * runner starts), profile.mjs and heap-profile.mjs (workloads to profile), and
 * with BENCH_EXTRA=some-file.ts (relative to bench/) extra.mjs, for a one-off
 * experiment.
 */
import { fileURLToPath } from "node:url";
import { build } from "tsup";

export const BUILD_DIR = fileURLToPath(new URL("../results/build/", import.meta.url));
const BENCH_DIR = fileURLToPath(new URL("../", import.meta.url));

export async function buildBench(): Promise<void> {
  await build({
    config: false,
    entry: {
      child: `${BENCH_DIR}child.ts`,
      profile: `${BENCH_DIR}profile.ts`,
      "heap-profile": `${BENCH_DIR}heap-profile.ts`,
      ...(process.env.BENCH_EXTRA ? { extra: `${BENCH_DIR}${process.env.BENCH_EXTRA}` } : {}),
    },
    format: ["esm"],
    outDir: BUILD_DIR,
    outExtension: () => ({ js: ".mjs" }),
    dts: false,
    splitting: false,
    sourcemap: true,
    clean: true,
    target: "node22",
    platform: "node",
    // The OpenTelemetry SDK (dev dependencies, CommonJS that requires the API) loads from node_modules, as in an app.
    external: [/^@opentelemetry\//],
    silent: true,
  });
}
