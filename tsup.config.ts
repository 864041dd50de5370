import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", testing: "src/testing/index.ts", redis: "src/redis.ts", postgres: "src/postgres.ts", bullmq: "src/bullmq.ts", sdk: "src/sdk/index.ts", stores: "src/stores.ts", cli: "src/cli/index.ts" },
  // Optional peers: loaded from the user's install, only by the entry that needs them.
  external: ["ioredis", "pg", "bullmq"],
  format: ["esm", "cjs"],
  dts: true,
  // Shared chunks keep one copy of each class, so `instanceof` works across
  // the main entry and `/testing` in both formats.
  splitting: true,
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "node",
});
