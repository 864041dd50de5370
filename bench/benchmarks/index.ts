/** Every benchmark, in table order. */
import type { Benchmark } from "../lib/report.js";
import { backlog } from "./backlog.js";
import { cpu } from "./cpu.js";
import { durableWrites } from "./durable.js";
import { fairness } from "./fairness.js";
import { growth } from "./growth.js";
import { idleMemory } from "./idle-memory.js";
import { manyUsers } from "./many-users.js";
import { memory } from "./memory.js";
import { processes } from "./processes.js";
import { stateSecret } from "./state-secret.js";
import { refreshStorm } from "./storm.js";
import { stores } from "./stores.js";
import { streaming } from "./streaming.js";
import { telemetry } from "./telemetry.js";
import { throughput } from "./throughput.js";

export const BENCHMARKS: readonly Benchmark[] = [throughput, cpu, refreshStorm, memory, streaming, growth, fairness, backlog, manyUsers, idleMemory, telemetry, stores, processes, durableWrites, stateSecret];
