/**
 * Signed requests as digi.me expects them (and as the SDK makes them): a
 * PS512 JWT signed with the contract's private key, header `{ alg, typ }`,
 * no `iat`, claims `client_id = "<applicationId>_<contractId>"`, a
 * 32-character alphanumeric `nonce` and a `timestamp` in ms, plus the call's
 * own claims.
 * @module
 */
import { createPrivateKey, randomInt } from "node:crypto";
import { SignJWT, type JWTPayload } from "jose";

const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** Who signs: the application and one of its contracts. */
export interface RequestSigner {
  applicationId: string;
  contractId: string;
  /** PKCS#1 (or PKCS#8) PEM private key of the contract. */
  privateKey: string;
}

/** `length` random letters and digits, the alphabet of the SDK's nonces. */
export function randomAlphanumeric(length: number): string {
  let text = "";
  for (let index = 0; index < length; index += 1) text += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return text;
}

/**
 * Sign `claims` for a request to digi.me. The timestamp is the wall clock,
 * never an injected test clock: digi.me compares it with its own.
 */
export async function signRequestJwt(signer: RequestSigner, claims: Record<string, unknown>): Promise<string> {
  const payload: JWTPayload = {
    client_id: `${signer.applicationId}_${signer.contractId}`,
    nonce: randomAlphanumeric(32),
    timestamp: Date.now(),
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: "PS512", typ: "JWT" }).sign(createPrivateKey(signer.privateKey));
}
