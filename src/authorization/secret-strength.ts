/**
 * Is a `stateSecret` (or a token-store key) strong enough? It must be the
 * base64 (standard or url) or hex text of at least 32 random bytes. Entropy
 * cannot be measured from one sample, so this refuses what is certainly weak:
 * too short, few distinct characters, text that compresses (repeats such as
 * "a" × 43 or a password written six times), the encoding of printable text
 * (`base64("my long passphrase…")`), keyboard or alphabet runs
 * ("qwertyuiop…", "abcdef…"), and base64 letters all of one case (a
 * passphrase typed as if it were base64). Random output never trips these
 * bounds (checked on 100,000 samples of each encoding; the margins are wide).
 *
 * What no check can see: the hex SHA-256 of "winter2024" looks exactly like
 * random hex. That is why sealing keys come from scrypt (see `seal.ts`), so
 * each guess of such a secret costs an attacker over 100 ms.
 */
import { deflateRawSync } from "node:zlib";

const MIN_BYTES = 32;
const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
/** Sequences whose neighbours people type in a row. */
const RUNS = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"];

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
  const decoded = hex ? Buffer.from(secret, "hex") : Buffer.from(secret, "base64");
  const bytes = hex ? secret.length / 2 : Math.floor((secret.replace(/=+$/, "").length * 3) / 4);
  if (bytes < MIN_BYTES) return `must encode at least ${MIN_BYTES} bytes (256 bits) but encodes ${bytes}; ${SECRET_HINT}`;
  // Random hex of 64+ characters shows at least 13 distinct digits, random base64 of 43+ at least 21.
  const distinct = new Set(secret).size;
  if (distinct < (hex ? 10 : 16)) return `has too few distinct characters to be random; ${SECRET_HINT}`;
  // Random text does not compress (hex to no less than 0.63 of its length, base64 to 0.97); repeats do.
  const ratio = deflateRawSync(secret, { level: 9 }).length / secret.length;
  if (ratio < (hex ? 0.5 : 0.8)) return `repeats itself, so it is not random; ${SECRET_HINT}`;
  // Random bytes are printable ASCII (or tab/CR/LF) 38% of the time; an encoded passphrase is all of it.
  if (textShare(decoded) >= 0.9) return `encodes printable text (a passphrase), not random bytes; ${SECRET_HINT}`;
  // Random base64 has a keyboard or alphabet neighbour in about 1 pair in 16 (hex 1 in 8); typed runs in most.
  if (runShare(secret) >= 0.4) return `is mostly keyboard or alphabet runs, so it is not random; ${SECRET_HINT}`;
  // 43 random base64 characters all without upper (or lower) case letters: chance 2 in 10^10.
  if (!hex && (!/[a-z]/.test(secret) || !/[A-Z]/.test(secret))) return `uses letters of one case only, so it is not random base64; ${SECRET_HINT}`;
  return undefined;
}

function textShare(bytes: Buffer): number {
  let text = 0;
  for (const byte of bytes) if ((byte >= 0x20 && byte <= 0x7e) || byte === 0x09 || byte === 0x0a || byte === 0x0d) text += 1;
  return bytes.length === 0 ? 1 : text / bytes.length;
}

function runShare(secret: string): number {
  const lower = secret.toLowerCase();
  let runs = 0;
  for (let i = 1; i < lower.length; i += 1) {
    const pair = lower.slice(i - 1, i + 1);
    const reversed = `${pair[1]}${pair[0]}`;
    if (RUNS.some((run) => run.includes(pair) || run.includes(reversed))) runs += 1;
  }
  return lower.length < 2 ? 1 : runs / (lower.length - 1);
}
