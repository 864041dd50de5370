/**
 * `POST <baseUrl>oauth/authorize`: the first half of `getAuthorizeUrl`. The
 * SDK signs `code_challenge` (S256), `redirect_uri`, `state` and, to link a
 * known user, `access_token`; its JSON body names the SDK version, which is
 * the only place the server learns the SDK's generation (8.x postbox writes
 * need a postbox on consent). The answer is `{ token, session }`; `token` is
 * a server-signed JWT holding `preauthorization_code`, which the SDK puts in
 * the consent URL.
 *
 * The request does not carry the SDK's `callback` (8.x adds it to the URL
 * only) nor `serviceId` (URL only): `sandbox.consent` reads both from the URL.
 * @module
 */
import { z } from "zod";
import { authorize } from "../server.js";
import type { SandboxGeneration } from "../types.js";
import { parseJsonBody, parseOrReject } from "./claims.js";
import type { EndpointContext } from "./context.js";
import { jsonOutcome, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { signatureProof, readSignedRequest } from "./signed-request.js";
import { signServerToken } from "./signing-key.js";

const claimsSchema = z.object({
  // base64url of a SHA-256 digest: 43 characters.
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code_challenge_method: z.literal("S256"),
  redirect_uri: z.string().min(1),
  response_type: z.literal("code"),
  response_mode: z.literal("query").optional(),
  state: z.string().optional(),
  access_token: z.string().min(1).optional(),
});

const bodySchema = z.object({
  agent: z.object({ sdk: z.object({ name: z.string().optional(), version: z.string().optional() }).optional() }).optional(),
  actions: z.unknown().optional(),
});

/**
 * The write-API generation of an SDK version: 5.x–8.x A, 9.x–10.x B, later C
 * (also when the version is missing or unreadable: current SDKs are C).
 *
 * @example
 * ```ts
 * generationOfSdkVersion("10.1.1"); // "B"
 * ```
 */
export function generationOfSdkVersion(version: string | undefined): SandboxGeneration {
  const major = Number(/^v?(\d+)\./.exec(version ?? "")?.[1] ?? Number.NaN);
  if (!Number.isInteger(major)) return "C";
  return major <= 8 ? "A" : major <= 10 ? "B" : "C";
}

/**
 * Handle `POST oauth/authorize`.
 *
 * @example
 * ```ts
 * const outcome = await handleAuthorize(ctx, request);
 * ```
 */
export async function handleAuthorize(ctx: EndpointContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  const signed = readSignedRequest(request);
  const claims = parseOrReject(claimsSchema, signed.claims, "authorize request token");
  const body = parseOrReject(bodySchema, parseJsonBody(await request.body()), "authorize request body");
  const result = await authorize(ctx.state, {
    contract: signatureProof(ctx, signed),
    generation: generationOfSdkVersion(body.agent?.sdk?.version),
    codeChallenge: claims.code_challenge,
    state: claims.state,
    successRedirect: claims.redirect_uri,
    // Where 8.x sends failures travels in the consent URL; consent prefers it.
    errorRedirect: claims.redirect_uri,
    accessToken: claims.access_token,
    serviceId: undefined,
  });
  const token = await signServerToken(await ctx.http.signingKey(), { preauthorization_code: result.preauthorizationCode }, ctx.mount.jwksUrl);
  return jsonOutcome(200, { token, session: result.session });
}
