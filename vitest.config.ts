import { defineConfig } from "vitest/config";
import { SOAK_FILES } from "./vitest.soak.config.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The long soaks run under `npm run test:soak` (vitest.soak.config.ts), which .ci/run also runs.
    exclude: ["**/node_modules/**", ...SOAK_FILES],
    // Both cores: vitest's default here is one worker fewer than the cores (one, on two), and most
    // of the suite waits on timers, servers and child processes rather than the CPU.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
