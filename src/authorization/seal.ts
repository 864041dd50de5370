/**
 * Sealing: authenticated encryption of the authorization bundle (JWE, `dir` +
 * A256GCM through jose) so it can live in a cookie, and the MAC that makes a
 * `state` checkable without a store. The first secret seals and signs, every
 * listed secret opens and verifies, which is how secrets rotate.
 *
 * Keys come from a memory-hard KDF. Anyone holding one sealed cookie (or one
 * state) can test guesses of the secret offline; with HKDF alone a guess cost
 * microseconds (200,000 guesses in 10 s on one core). scrypt at N = 2^16,
 * r = 8 (64 MiB) makes each guess cost over 100 ms of one core and 64 MiB of
 * memory, which also defeats GPUs; `bench/benchmarks/state-secret.ts` measures
 * it. The derivation runs once per secret per process (memoized) and lazily,
 * so an old secret kept for rotation costs nothing until a cookie needs it.
 *
 * The header names no key: a `kid` derived from the key would let anyone
 * holding one cookie test guesses against it instead. Opening tries each
 * configured key instead (at most 16, usually the first).
 */
import { createHash, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { CompactEncrypt, compactDecrypt, type CompactDecryptResult } from "jose";

/** scrypt cost: 2^16 × r 8 × 128 B = 64 MiB and about 100–150 ms of one core per derivation. */
export const STATE_SECRET_SCRYPT = Object.freeze({ N: 2 ** 16, r: 8, p: 1, maxmem: 160 * 1024 * 1024 });
const SCRYPT_SALT = "digime-write-pipeline/state-secret v2";
const HKDF_SALT = "digime-write-pipeline/authorization-bundle";
const BUNDLE_INFO = "A256GCM v2";
const STATE_INFO = "state HMAC-SHA256 v2";
/** Random bytes of a state, then the first bytes of its HMAC. */
const STATE_RANDOM_BYTES = 24;
const STATE_TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How a secret becomes a key: `scrypt` for secrets people chose, `hkdf` for one the library drew at random itself. */
export type SecretDerivation = "scrypt" | "hkdf";

/** Options of {@link createSealer}. */
export interface SealerOptions {
  /** Default `scrypt`. `hkdf` only for a secret of 32 random bytes made in process (nothing to guess). */
  derivation?: SecretDerivation;
}

/**
 * Derived master keys, memoized per process by a hash of (secret,
 * derivation): a second client with the same secret (another contract, say)
 * pays nothing. Bounded, so a process that makes clients with ever new
 * secrets does not grow. The salt is fixed on purpose: a per-contract salt
 * would cost every client its own derivation, and precomputation only helps
 * against secrets the strength check refuses.
 */
const masters = new Map<string, Promise<Buffer>>();
const MAX_MEMOIZED = 64;

function master(secret: string, derivation: SecretDerivation): Promise<Buffer> {
  const id = createHash("sha256").update(JSON.stringify([secret, derivation])).digest("base64url");
  const known = masters.get(id);
  if (known !== undefined) return known;
  const derived =
    derivation === "hkdf"
      ? Promise.resolve(Buffer.from(hkdfSync("sha256", secret, SCRYPT_SALT, "master", 32)))
      : new Promise<Buffer>((resolve, reject) => {
          scrypt(secret, SCRYPT_SALT, 32, STATE_SECRET_SCRYPT, (error, key) => (error === null ? resolve(key) : reject(error)));
        });
  masters.set(id, derived);
  derived.catch(() => masters.delete(id));
  if (masters.size > MAX_MEMOIZED) masters.delete(masters.keys().next().value as string);
  return derived;
}

interface Keys {
  bundle: Uint8Array;
  state: Buffer;
}

async function keysOf(secret: string, derivation: SecretDerivation): Promise<Keys> {
  const root = await master(secret, derivation);
  return {
    bundle: new Uint8Array(hkdfSync("sha256", root, HKDF_SALT, BUNDLE_INFO, 32)),
    state: Buffer.from(hkdfSync("sha256", root, HKDF_SALT, STATE_INFO, 32)),
  };
}

/**
 * Why a sealed bundle could not be opened. `tampered` also covers a bundle
 * sealed under a secret no longer listed: telling the two apart would need a
 * key identifier in the header, which is what this design avoids.
 */
export type OpenFailure = "malformed" | "tampered";

/** Seals and opens bundles, makes and checks states, with a list of secrets, newest first. */
export interface Sealer {
  seal(payload: unknown): Promise<string>;
  open(sealed: string): Promise<{ ok: true; payload: unknown } | { ok: false; reason: OpenFailure }>;
  /** A fresh random state carrying a MAC under the newest secret. */
  newState(): Promise<string>;
  /** Whether `state` was made by {@link Sealer.newState} under one of the secrets (constant time per key). */
  checkState(state: string): Promise<boolean>;
}

/** Create a sealer; `secrets[0]` seals, all of them open. */
export function createSealer(secrets: readonly string[], options: SealerOptions = {}): Sealer {
  if (secrets.length === 0) throw new Error("createSealer needs at least one secret");
  const derivation = options.derivation ?? "scrypt";
  // Lazily, one at a time: an old secret costs its derivation only when something sealed under it arrives.
  const cache: Array<Promise<Keys> | undefined> = secrets.map(() => undefined);
  const keyAt = (index: number): Promise<Keys> => (cache[index] ??= keysOf(secrets[index] as string, derivation));

  return {
    async seal(payload) {
      const { bundle } = await keyAt(0);
      return new CompactEncrypt(encoder.encode(JSON.stringify(payload))).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(bundle);
    },
    async open(sealed) {
      // Only the exact string `seal` made opens: base64url decoding forgives
      // whitespace, padding and stray low bits, so an altered string could
      // otherwise decode to the same bytes and open.
      if (!isCanonicalCompactJwe(sealed)) return { ok: false, reason: "malformed" };
      let result: CompactDecryptResult | undefined;
      for (let index = 0; index < secrets.length && result === undefined; index += 1) {
        const { bundle } = await keyAt(index);
        try {
          result = await compactDecrypt(sealed, bundle, { keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
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
    async newState() {
      const { state } = await keyAt(0);
      const random = randomBytes(STATE_RANDOM_BYTES);
      return Buffer.concat([random, stateTag(state, random)]).toString("base64url");
    },
    async checkState(value) {
      const bytes = Buffer.from(value, "base64url");
      if (bytes.length !== STATE_RANDOM_BYTES + STATE_TAG_BYTES || bytes.toString("base64url") !== value) return false;
      const random = bytes.subarray(0, STATE_RANDOM_BYTES);
      const tag = bytes.subarray(STATE_RANDOM_BYTES);
      for (let index = 0; index < secrets.length; index += 1) {
        if (timingSafeEqual(stateTag((await keyAt(index)).state, random), tag)) return true;
      }
      return false;
    },
  };
}

function stateTag(key: Buffer, random: Buffer): Buffer {
  return createHmac("sha256", key).update(random).digest().subarray(0, STATE_TAG_BYTES);
}

/** `dir` compact JWE: header..iv.ciphertext.tag, each the canonical unpadded base64url of its bytes. */
const COMPACT_DIR_JWE = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function isCanonicalCompactJwe(sealed: string): boolean {
  if (!COMPACT_DIR_JWE.test(sealed)) return false;
  return sealed.split(".").every((segment) => Buffer.from(segment, "base64url").toString("base64url") === segment);
}
