/**
 * `POST <baseUrl>oauth/token`: both grants the SDK uses. `authorization_code`
 * signs `code` and `code_verifier` (checked against the S256 challenge of the
 * authorize request; codes are single-use, even when the check fails);
 * `refresh_token` signs `refresh_token` (single-use, rotated). The answer is
 * `{ token }`, a server-signed JWT of `{ access_token: { value, expires_on },
 * refresh_token: { value, expires_on }, sub, consentid }` (epoch seconds).
 * @module
 */
import { z } from "zod";
import { exchange, refresh, type TokenGrant } from "../server.js";
import { parseOrReject } from "./claims.js";
import type { EndpointContext } from "./context.js";
import { invalidRequest, jsonOutcome, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { readSignedRequest, signatureProof } from "./signed-request.js";
import { signServerToken } from "./signing-key.js";

const codeGrantSchema = z.object({
  grant_type: z.literal("authorization_code"),
  code: z.string().min(1),
  code_verifier: z.string().min(1),
});

const refreshGrantSchema = z.object({
  grant_type: z.literal("refresh_token"),
  refresh_token: z.string().min(1),
});

async function answer(ctx: EndpointContext, grant: TokenGrant): Promise<HttpOutcome> {
  const token = await signServerToken(await ctx.http.signingKey(), { ...grant }, ctx.mount.jwksUrl);
  return jsonOutcome(200, { token });
}

/**
 * Handle `POST oauth/token`.
 *
 * @example
 * ```ts
 * const outcome = await handleToken(ctx, request);
 * ```
 */
export async function handleToken(ctx: EndpointContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  const signed = readSignedRequest(request);
  const grantType = signed.claims.grant_type;
  if (grantType === "authorization_code") {
    const claims = parseOrReject(codeGrantSchema, signed.claims, "token request");
    // Read before the exchange burns the code: the import endpoint needs the SDK's generation later.
    const generation = ctx.state.authorizations.peekCode(claims.code)?.generation;
    const grant = await exchange(ctx.state, { contract: signatureProof(ctx, signed), code: claims.code, codeVerifier: claims.code_verifier });
    if (generation !== undefined) ctx.http.generations.set(grant.consentid, generation);
    return answer(ctx, grant);
  }
  if (grantType === "refresh_token") {
    const claims = parseOrReject(refreshGrantSchema, signed.claims, "token request");
    return answer(ctx, await refresh(ctx.state, { contract: signatureProof(ctx, signed), refreshToken: claims.refresh_token }));
  }
  throw invalidRequest("The grant_type must be authorization_code or refresh_token");
}
