import { defineConfig } from "vitest/config";
import { SOAK_FILES } from "./vitest.soak.config.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The long soaks run under `npm run test:soak` (vitest.soak.config.ts), which .ci/run also runs.
    exclude: ["**/node_modules/**", ...SOAK_FILES],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
