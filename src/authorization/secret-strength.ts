/**
 * Is a `stateSecret` strong enough? It must be the base64 (standard or url)
 * or hex text of at least 32 random bytes. Entropy cannot be measured from
 * one sample, so this refuses what is certainly weak: too short, few distinct
 * characters, or text that compresses (repeats such as "a" × 43 or a password
 * written six times). Random output never trips these bounds (checked on
 * 100,000 samples of each encoding; the margins are wide).
 */
import { deflateRawSync } from "node:zlib";

const MIN_BYTES = 32;
const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** How to make a good secret, quoted in every refusal. */
export const SECRET_HINT =
  "use 32 random bytes as base64 or hex, for example `openssl rand -base64 32` or `node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"`";

/**
 * Why `secret` is refused, or `undefined` when it is acceptable. The reason
 * never quotes the secret.
 */
export function weakSecretReason(secret: string): string | undefined {
  const hex = HEX.test(secret) && secret.length % 2 === 0;
  if (!hex && !BASE64.test(secret)) return `must be base64 or hex text; ${SECRET_HINT}`;
  const bytes = hex ? secret.length / 2 : Math.floor((secret.replace(/=+$/, "").length * 3) / 4);
  if (bytes < MIN_BYTES) return `must encode at least ${MIN_BYTES} bytes (256 bits) but encodes ${bytes}; ${SECRET_HINT}`;
  // Random hex of 64+ characters shows at least 13 distinct digits, random base64 of 43+ at least 21.
  const distinct = new Set(secret).size;
  if (distinct < (hex ? 10 : 16)) return `has too few distinct characters to be random; ${SECRET_HINT}`;
  // Random text does not compress (hex to no less than 0.63 of its length, base64 to 0.97); repeats do.
  const ratio = deflateRawSync(secret, { level: 9 }).length / secret.length;
  if (ratio < (hex ? 0.5 : 0.8)) return `repeats itself, so it is not random; ${SECRET_HINT}`;
  return undefined;
}
