/**
 * `GET <baseUrl>jwks/oauth`: the key set the SDK fetches (from a token's
 * `jku`) to verify every token the sandbox returns. The shape the SDK checks
 * is `{ keys: [{ kid, pem, ... }] }`.
 * @module
 */
import { serveKeySet } from "../server.js";
import type { EndpointContext } from "./context.js";
import { jsonOutcome, type HttpOutcome } from "./exchange.js";

/**
 * Serve the JWKS document. Fault rules naming `endpoint: "jwks"` apply.
 *
 * @example
 * ```ts
 * const outcome = await handleJwks(ctx);
 * ```
 */
export async function handleJwks(ctx: EndpointContext): Promise<HttpOutcome> {
  const document = await serveKeySet(ctx.state, async () => ({ keys: [(await ctx.http.signingKey()).jwk] }));
  return jsonOutcome(200, document);
}
