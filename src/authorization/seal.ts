/**
 * Sealing: authenticated encryption of the authorization bundle (JWE, `dir` +
 * A256GCM through jose) so it can live in a cookie. Keys are derived from the
 * configured secrets with HKDF; the first secret seals, every listed secret
 * opens, which is how secrets rotate.
 *
 * The header names no key: a `kid` derived from the key would let anyone
 * holding one cookie test guesses of the secret with a fast hash. Opening
 * tries each configured key instead (at most 16, usually the first).
 */
import { hkdfSync } from "node:crypto";
import { CompactEncrypt, compactDecrypt, type CompactDecryptResult } from "jose";

const HKDF_SALT = "digime-write-pipeline/authorization-bundle";
const HKDF_INFO = "A256GCM v1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function deriveKey(secret: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", secret, HKDF_SALT, HKDF_INFO, 32));
}

/**
 * Why a sealed bundle could not be opened. `tampered` also covers a bundle
 * sealed under a secret no longer listed: telling the two apart would need a
 * key identifier in the header, which is what this design avoids.
 */
export type OpenFailure = "malformed" | "tampered";

/** Seals and opens bundles with a list of secrets, newest first. */
export interface Sealer {
  seal(payload: unknown): Promise<string>;
  open(sealed: string): Promise<{ ok: true; payload: unknown } | { ok: false; reason: OpenFailure }>;
}

/** Create a sealer; `secrets[0]` seals, all of them open. */
export function createSealer(secrets: readonly string[]): Sealer {
  const keys = secrets.map(deriveKey);
  const current = keys[0];
  if (current === undefined) throw new Error("createSealer needs at least one secret");

  return {
    async seal(payload) {
      return new CompactEncrypt(encoder.encode(JSON.stringify(payload))).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(current);
    },
    async open(sealed) {
      // Only the exact string `seal` made opens: base64url decoding forgives
      // whitespace, padding and stray low bits, so an altered string could
      // otherwise decode to the same bytes and open.
      if (!isCanonicalCompactJwe(sealed)) return { ok: false, reason: "malformed" };
      let result: CompactDecryptResult | undefined;
      for (const key of keys) {
        try {
          result = await compactDecrypt(sealed, key, { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
          break;
        } catch {
          // Not this key (or not a bundle at all): try the next one.
        }
      }
      if (result === undefined) return { ok: false, reason: "tampered" };
      try {
        return { ok: true, payload: JSON.parse(decoder.decode(result.plaintext)) as unknown };
      } catch {
        return { ok: false, reason: "tampered" };
      }
    },
  };
}

/** `dir` compact JWE: header..iv.ciphertext.tag, each the canonical unpadded base64url of its bytes. */
const COMPACT_DIR_JWE = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function isCanonicalCompactJwe(sealed: string): boolean {
  if (!COMPACT_DIR_JWE.test(sealed)) return false;
  return sealed.split(".").every((segment) => Buffer.from(segment, "base64url").toString("base64url") === segment);
}
