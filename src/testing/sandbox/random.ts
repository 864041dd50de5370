/**
 * Randomness of the sandbox. Secrets (token values, codes, verifiers) come
 * from `node:crypto` so tests never lean on guessable values; only fault
 * probabilities use the seeded PRNG, so a flaky scenario replays exactly.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";

/**
 * An unguessable base64url string of `bytes` random bytes (32 bytes → 43 characters).
 *
 * @example
 * ```ts
 * const accessToken = randomSecret(); // "q3N…", 43 characters
 * ```
 */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/**
 * A readable, unique identifier such as `library-3f9c0a1b2c3d4e5f`.
 *
 * @example
 * ```ts
 * const id = randomId("library");
 * ```
 */
export function randomId(prefix: string): string {
  return `${prefix}-${randomBytes(8).toString("hex")}`;
}

/**
 * The PKCE S256 challenge of a code verifier: base64url(sha256(verifier)).
 *
 * @example
 * ```ts
 * const challenge = pkceChallenge(codeVerifier);
 * ```
 */
export function pkceChallenge(codeVerifier: string): string {
  return createHash("sha256").update(codeVerifier).digest("base64url");
}

/**
 * mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). Good
 * enough to draw fault probabilities reproducibly; never used for secrets.
 *
 * @example
 * ```ts
 * const next = mulberry32(42);
 * next(); // always the same first value for seed 42
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
