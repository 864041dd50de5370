/**
 * A workload to profile: N writes (default 100,000) through the client or the
 * baseline, fed 1,000 at a time, as in the CPU benchmark; optional SDK latency
 * in ms, distinct users (default 100), `fresh` for a new payload per write and
 * `burst` to submit every write at once (as figure 1 does).
 *   npx tsx bench/build-only.ts
 *   npx node --cpu-prof --cpu-prof-dir=bench/results/prof bench/results/build/profile.mjs client 100000 [latencyMs] [users] [fresh] [burst]
 *   npx tsx bench/summarize-profile.ts bench/results/prof/<file>.cpuprofile
 */
import { performance } from "node:perf_hooks";
import { burst, createWorld, drive, submitter } from "./lib/world.js";

const arm = process.argv[2] ?? "client";
const writes = Number(process.argv[3] ?? 100_000);
const latencyMs = Number(process.argv[4] ?? 0);
const users = Number(process.argv[5] ?? 100);
const freshPayload = process.argv[6] === "fresh";
const atOnce = process.argv[7] === "burst";
const world = await createWorld({ users: Math.min(users, 100), distinctUsers: users, concurrency: 16, latencyMs });
const submit = submitter(world, arm === "client" ? "client" : "baseline", { freshPayload });
const started = performance.now();
const before = process.cpuUsage();
const failed = atOnce ? await burst(writes, submit) : await drive(writes, 1_000, submit);
const used = process.cpuUsage(before);
const seconds = (performance.now() - started) / 1000;
console.log(`${arm}: ${writes} writes, ${failed} failed, ${((used.user + used.system) / writes).toFixed(1)} µs CPU per write, ${(writes / seconds).toFixed(0)} writes/s`);
await world.client.close();
