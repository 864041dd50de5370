/** Build the benchmark bundle only (for profiling): npx tsx bench/build-only.ts */
import { buildBench, BUILD_DIR } from "./lib/build.js";

await buildBench();
console.log(`built ${BUILD_DIR}child.mjs and profile.mjs`);
