/**
 * RSA key pairs for contracts and postboxes, as PKCS#1 PEM like the SDK
 * expects (`node-rsa`'s `pkcs1-private` / `pkcs1-public`).
 * @module
 */
import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync } from "node:crypto";
import { promisify } from "node:util";

/**
 * A PKCS#1 PEM key pair.
 *
 * @example
 * ```ts
 * const { publicKey, privateKey }: RsaKeyPair = generateRsaKeyPairSync();
 * ```
 */
export interface RsaKeyPair {
  publicKey: string;
  privateKey: string;
}

const KEY_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: "pkcs1", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
} as const;

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A fresh RSA-2048 key pair, synchronously (contracts exist as soon as the sandbox does).
 *
 * @example
 * ```ts
 * const contractKeys = generateRsaKeyPairSync();
 * ```
 */
export function generateRsaKeyPairSync(): RsaKeyPair {
  return generateKeyPairSync("rsa", KEY_OPTIONS);
}

/**
 * A fresh RSA-2048 key pair without blocking the event loop (postboxes are made during consent).
 *
 * @example
 * ```ts
 * const postboxKeys = await generateRsaKeyPair();
 * ```
 */
export async function generateRsaKeyPair(): Promise<RsaKeyPair> {
  return generateKeyPairAsync("rsa", KEY_OPTIONS);
}

/**
 * A canonical fingerprint of a public key (base64 of its SPKI DER), or
 * `undefined` when the text is not a public key (what `node-rsa` would refuse
 * to import). SPKI, because Node 24 cannot re-export a key it imported from
 * PKCS#1 PEM as PKCS#1.
 *
 * @example
 * ```ts
 * publicKeyFingerprint(publicKeyFromCallback) === publicKeyFingerprint(postbox.publicKey);
 * ```
 */
export function publicKeyFingerprint(publicKeyPem: string): string | undefined {
  try {
    return createPublicKey(publicKeyPem).export({ type: "spki", format: "der" }).toString("base64");
  } catch {
    return undefined;
  }
}

/**
 * The fingerprint (see {@link publicKeyFingerprint}) of the public half of a
 * private key, or `undefined` when the text is not a private key. Lets a
 * contract be recognised even when a caller re-encoded its key.
 *
 * @example
 * ```ts
 * privateKeyFingerprint(sandbox.contractDetails.privateKey) === publicKeyFingerprint(contract.publicKey);
 * ```
 */
export function privateKeyFingerprint(privateKeyPem: string): string | undefined {
  try {
    return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" }).toString("base64");
  } catch {
    return undefined;
  }
}
