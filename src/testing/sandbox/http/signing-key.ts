/**
 * The sandbox server's own signing key: every token it returns over HTTP is
 * a PS512 JWT signed with it, whose header names the key (`kid`) and where to
 * fetch it (`jku`), as digi.me's are. The SDK fetches the JWKS document,
 * picks the entry by `kid` and verifies with its `pem` field, so the entry
 * carries the PEM beside the usual JWK members.
 * @module
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { exportJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { randomId } from "../random.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A JWKS entry as digi.me serves it: a public RSA JWK plus `pem`.
 *
 * @example
 * ```ts
 * const entry: SandboxJwk = (await signingKey()).jwk;
 * entry.pem; // "-----BEGIN PUBLIC KEY-----…"
 * ```
 */
export type SandboxJwk = JWK & { kid: string; alg: "PS512"; use: "sig"; pem: string };

/**
 * A server signing key.
 *
 * @example
 * ```ts
 * const key: SigningKey = await createSigningKey();
 * ```
 */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public half, as the JWKS document lists it. */
  readonly jwk: SandboxJwk;
}

/**
 * A fresh RSA-2048 signing key (made once per sandbox, on the first HTTP request that needs it).
 *
 * @example
 * ```ts
 * const key = await createSigningKey();
 * ```
 */
export async function createSigningKey(): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
  const kid = randomId("sandbox-key");
  const jwk: SandboxJwk = {
    ...(await exportJWK(publicKey)),
    kid,
    alg: "PS512",
    use: "sig",
    pem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
  return { kid, privateKey, jwk };
}

/**
 * Sign a token payload as the server: PS512, header `{ alg, typ, kid, jku }`.
 * No `iat` or `exp`: the SDK checks neither, and the sandbox clock may be
 * far from the wall clock the SDK verifies with.
 *
 * @example
 * ```ts
 * const token = await signServerToken(key, { preauthorization_code: code }, mount.jwksUrl);
 * ```
 */
export async function signServerToken(key: SigningKey, payload: JWTPayload, jku: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "PS512", typ: "JWT", kid: key.kid, jku }).sign(key.privateKey);
}
