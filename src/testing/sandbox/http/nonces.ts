/**
 * Replay protection for signed requests: each `nonce` is accepted once while
 * its request could still pass the `timestamp` check, and forgotten after.
 * @module
 */

/**
 * How far a signed request's `timestamp` (ms) may be from the server's wall
 * clock. The SDK stamps requests with `Date.now()`, so the check uses the
 * wall clock too, never the sandbox clock tests move to expire tokens.
 *
 * @example
 * ```ts
 * Math.abs(Date.now() - claims.timestamp) <= SIGNED_REQUEST_MAX_SKEW_MS;
 * ```
 */
export const SIGNED_REQUEST_MAX_SKEW_MS = 5 * 60 * 1000;

/**
 * Nonces seen within the window in which a replay could pass the timestamp check.
 *
 * @example
 * ```ts
 * const nonces = new NonceRegistry();
 * nonces.claim("a".repeat(32), Date.now()); // true
 * nonces.claim("a".repeat(32), Date.now()); // false: replayed
 * ```
 */
export class NonceRegistry {
  /** nonce → when it was seen (ms); insertion order is arrival order. */
  readonly #seen = new Map<string, number>();

  /** Record a nonce; false when it was already used. */
  claim(nonce: string, nowMs: number): boolean {
    this.#forgetBefore(nowMs - 2 * SIGNED_REQUEST_MAX_SKEW_MS);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, nowMs);
    return true;
  }

  /** Number of nonces remembered. */
  get size(): number {
    return this.#seen.size;
  }

  #forgetBefore(limitMs: number): void {
    for (const [nonce, seenAt] of this.#seen) {
      if (seenAt >= limitMs) break;
      this.#seen.delete(nonce);
    }
  }
}
