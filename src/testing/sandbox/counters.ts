/**
 * Server-side counters. One mutable object is handed out as a read-only live
 * view, so resetting zeroes it in place and views taken earlier stay valid.
 * @module
 */
import type { SandboxCounters } from "./types.js";

/**
 * The names of the counters.
 *
 * @example
 * ```ts
 * const name: CounterName = "deliveries";
 * ```
 */
export type CounterName = keyof SandboxCounters;

const NAMES: readonly CounterName[] = [
  "authorizeUrls",
  "exchanges",
  "refreshes",
  "failedRefreshes",
  "writeAttempts",
  "deliveries",
  "faultsInjected",
];

/**
 * A zeroed counters object.
 *
 * @example
 * ```ts
 * const counters = createCounters();
 * counters.deliveries += 1;
 * ```
 */
export function createCounters(): SandboxCounters {
  const counters = {} as SandboxCounters;
  for (const name of NAMES) counters[name] = 0;
  return counters;
}

/**
 * Zero every counter in place.
 *
 * @example
 * ```ts
 * resetCounters(counters);
 * ```
 */
export function resetCounters(counters: SandboxCounters): void {
  for (const name of NAMES) counters[name] = 0;
}
