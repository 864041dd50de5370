import { defineConfig } from "vitest/config";

/**
 * The long soaks, apart from the default `npm test` (which stays under three
 * minutes): `npm run test:soak`, which .ci/run also runs. Per-file durations
 * that put them here are in docs/testing.md ("The project's own tests").
 */
export const SOAK_FILES = [
  // ~80 s: 10,000 writes over 100 users per SDK generation under injected faults.
  "test/reliability/fault-soak.test.ts",
  // ~45 s: several processes sharing Redis/PostgreSQL stores across token expiries.
  "test/reliability/multi-process.test.ts",
  // ~8 s: SIGKILLs BullMQ workers mid-batch and counts every write.
  "test/durable/durable-crash.test.ts",
  // ~27 s: four processes on File, Redis and PostgreSQL, the lease holder killed mid-refresh.
  "test/reliability/lease-holder-killed.test.ts",
  // ~25 s: PostgreSQL connections ended three times, a private Redis killed for 6 s, under four processes.
  "test/reliability/server-outages.test.ts",
  // ~19 s: Redis and PostgreSQL down, silent or unreachable, each call waited out to its bound.
  "test/reliability/unreachable-servers.test.ts",
];

export default defineConfig({
  test: {
    include: SOAK_FILES,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
