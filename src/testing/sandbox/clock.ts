/**
 * The sandbox clock. Everything time-based (token expiry, code expiry,
 * delivery stamps) reads it, so a test that controls `now` controls time.
 * @module
 */

/**
 * Milliseconds for records, whole epoch seconds for token expiries (as the SDK reports them).
 *
 * @example
 * ```ts
 * const clock = createClock(() => Date.parse("2030-01-01T00:00:00Z"));
 * clock.nowSeconds(); // 1893456000
 * ```
 */
export interface Clock {
  nowMs(): number;
  nowSeconds(): number;
}

/**
 * A clock over a millisecond time source.
 *
 * @example
 * ```ts
 * const clock = createClock(Date.now);
 * ```
 */
export function createClock(now: () => number): Clock {
  return {
    nowMs: () => now(),
    nowSeconds: () => Math.floor(now() / 1000),
  };
}
