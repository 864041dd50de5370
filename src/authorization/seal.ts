/**
 * Sealing: authenticated encryption of the authorization bundle (JWE, `dir` +
 * A256GCM through jose) so it can live in a cookie. Keys are derived from the
 * configured secrets with HKDF; the first secret seals, every listed secret
 * opens, which is how secrets rotate.
 */
import { createHash, hkdfSync } from "node:crypto";
import { CompactEncrypt, compactDecrypt, type CompactDecryptResult } from "jose";

const HKDF_SALT = "digime-write-pipeline/authorization-bundle";
const HKDF_INFO = "A256GCM v1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface SealKey {
  readonly kid: string;
  readonly key: Uint8Array;
}

function deriveKey(secret: string): SealKey {
  const key = new Uint8Array(hkdfSync("sha256", secret, HKDF_SALT, HKDF_INFO, 32));
  // The kid is a digest of the derived key: it tells keys apart, reveals nothing usable.
  const kid = createHash("sha256").update(key).digest("base64url").slice(0, 16);
  return { kid, key };
}

/** Why a sealed bundle could not be opened. */
export type OpenFailure = "malformed" | "unknown-key" | "tampered";

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
  const byKid = new Map(keys.map((k) => [k.kid, k.key] as const));

  return {
    async seal(payload) {
      return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: current.kid })
        .encrypt(current.key);
    },
    async open(sealed) {
      // Only the exact string `seal` made opens: base64url decoding forgives
      // whitespace, padding and stray low bits, so an altered string could
      // otherwise decode to the same bytes and open.
      if (!isCanonicalCompactJwe(sealed)) return { ok: false, reason: "malformed" };
      let result: CompactDecryptResult;
      try {
        result = await compactDecrypt(
          sealed,
          (header) => {
            const key = typeof header.kid === "string" ? byKid.get(header.kid) : undefined;
            if (key === undefined) throw new UnknownKeyError();
            return key;
          },
          { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] },
        );
      } catch (error) {
        if (error instanceof UnknownKeyError) return { ok: false, reason: "unknown-key" };
        return { ok: false, reason: "tampered" };
      }
      try {
        return { ok: true, payload: JSON.parse(decoder.decode(result.plaintext)) as unknown };
      } catch {
        return { ok: false, reason: "tampered" };
      }
    },
  };
}

class UnknownKeyError extends Error {}

/** `dir` compact JWE: header..iv.ciphertext.tag, each the canonical unpadded base64url of its bytes. */
const COMPACT_DIR_JWE = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function isCanonicalCompactJwe(sealed: string): boolean {
  if (!COMPACT_DIR_JWE.test(sealed)) return false;
  return sealed.split(".").every((segment) => Buffer.from(segment, "base64url").toString("base64url") === segment);
}
