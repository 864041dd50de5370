/**
 * Signed requests, as the SDK makes them: `Authorization: Bearer <JWT>`,
 * PS512, signed with the contract's private key, claims with
 * `client_id = "<applicationId>_<contractId>"`, a 32-character alphanumeric
 * `nonce` and a `timestamp` in ms, no `iat`.
 *
 * Reading (before the server operation) only decodes: what the endpoint
 * needs to build its request, and a 400 for what is not a PS512 JWT at all.
 * Checking (inside the operation, after the gate and fault rules, through a
 * {@link SignatureProof}) verifies, in this order: `client_id` names a
 * contract of this application (403 `InvalidClient`), the signature verifies
 * with that contract's public key (403 `InvalidClient`), other signed headers
 * verify with it too (400), `nonce` and `timestamp` are well formed, recent
 * and not replayed (400 `InvalidRequest`).
 * @module
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import type { ContractRecord } from "../contracts.js";
import type { SignatureProof } from "../server.js";
import { apiErrorFailure } from "../wire.js";
import type { EndpointContext } from "./context.js";
import { invalidRequest, type SandboxHttpRequest } from "./exchange.js";
import { SIGNED_REQUEST_MAX_SKEW_MS } from "./nonces.js";

/**
 * A decoded, not yet verified, signed request.
 *
 * @example
 * ```ts
 * const signed: SignedRequest = readSignedRequest(request);
 * signed.claims.grant_type;
 * ```
 */
export interface SignedRequest {
  readonly jwt: string;
  readonly claims: JWTPayload;
}

/**
 * Another PS512 JWT the request carries that must be signed with the same
 * contract key (the import endpoint's `FileDescriptor` header).
 *
 * @example
 * ```ts
 * const extra: AlsoSigned = { jwt: descriptorJwt, name: "FileDescriptor header" };
 * ```
 */
export interface AlsoSigned {
  readonly jwt: string;
  /** What to call it in the error message. */
  readonly name: string;
}

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i;
const NONCE = /^[A-Za-z0-9]{32}$/;

/**
 * Decode a compact JWT and check it claims PS512; a 400 naming `what` otherwise.
 *
 * @example
 * ```ts
 * const payload = decodePs512(descriptorJwt, "FileDescriptor header");
 * ```
 */
export function decodePs512(jwt: string, what: string): JWTPayload {
  let alg: unknown;
  let payload: JWTPayload;
  try {
    alg = decodeProtectedHeader(jwt).alg;
    payload = decodeJwt(jwt);
  } catch {
    throw invalidRequest(`The ${what} is not a JWT`);
  }
  if (alg !== "PS512") throw invalidRequest(`The ${what} must be signed with PS512`);
  return payload;
}

/**
 * Read the bearer JWT of a request without verifying it.
 *
 * @example
 * ```ts
 * const signed = readSignedRequest(request); // throws a 400 WireFailure when there is no PS512 bearer JWT
 * ```
 */
export function readSignedRequest(request: SandboxHttpRequest): SignedRequest {
  const match = BEARER.exec(request.header("authorization") ?? "");
  if (match?.[1] === undefined) throw invalidRequest("The request needs an Authorization header with a Bearer JWT");
  return { jwt: match[1], claims: decodePs512(match[1], "bearer token") };
}

function invalidClient(message: string) {
  return apiErrorFailure(403, "InvalidClient", message);
}

function contractOfClientId(ctx: EndpointContext, clientId: unknown): ContractRecord | undefined {
  const prefix = `${ctx.state.applicationId}_`;
  if (typeof clientId !== "string" || !clientId.startsWith(prefix)) return undefined;
  return ctx.state.contracts.get(clientId.slice(prefix.length));
}

async function verifies(jwt: string, key: KeyObject): Promise<boolean> {
  try {
    await compactVerify(jwt, key, { algorithms: ["PS512"] });
    return true;
  } catch {
    return false;
  }
}

/**
 * The proof of contract a signed request offers to a server operation; its
 * `verify` runs every check listed in this module's description.
 *
 * @example
 * ```ts
 * await importFile(ctx.state, { contract: signatureProof(ctx, signed, [{ jwt: descriptorJwt, name: "FileDescriptor header" }]), ... });
 * ```
 */
export function signatureProof(ctx: EndpointContext, signed: SignedRequest, alsoSigned: readonly AlsoSigned[] = []): SignatureProof {
  const contract = contractOfClientId(ctx, signed.claims.client_id);
  return {
    kind: "signature",
    contractId: contract?.contractId ?? "",
    verify: async () => {
      if (contract === undefined) throw invalidClient("The client_id does not name a contract of this application");
      const key = createPublicKey(contract.publicKey);
      if (!(await verifies(signed.jwt, key))) throw invalidClient("The request signature does not verify with the contract's public key");
      for (const extra of alsoSigned) {
        if (!(await verifies(extra.jwt, key))) throw invalidRequest(`The ${extra.name} is not signed with the contract's key`);
      }
      const { nonce, timestamp } = signed.claims;
      if (typeof nonce !== "string" || !NONCE.test(nonce)) throw invalidRequest("The nonce claim must be 32 letters and digits");
      const now = Date.now();
      if (typeof timestamp !== "number" || !Number.isFinite(timestamp) || Math.abs(now - timestamp) > SIGNED_REQUEST_MAX_SKEW_MS) {
        throw invalidRequest("The timestamp claim is missing or more than 5 minutes away from the server's clock");
      }
      if (!ctx.http.nonces.claim(nonce, now)) throw invalidRequest("The nonce was already used");
    },
  };
}
