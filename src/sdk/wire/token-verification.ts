/**
 * Verifying a token digi.me returns (`{ token }`: a PS512 JWT whose header
 * names its key set, `jku`, and key, `kid`). Every check is explicit and in
 * this order:
 * 1. the header says `alg: "PS512"` and carries string `jku` and `kid`;
 * 2. `jku` is under the trusted origin (the configured base URL's), else
 *    {@link TokenKeySetUntrustedError} before anything is fetched;
 * 3. the key set is fetched (cached per URL, fetched again once when `kid`
 *    is not in the cached copy) and `kid` is looked up in it;
 * 4. the signature verifies with that key, with the algorithm pinned to
 *    PS512, and `exp`/`nbf` hold when present;
 * 5. the caller checks the claims' shape (zod) and meaning.
 * A failure of 1, 3 (unknown kid, bad key) or 4 is {@link TokenResponseInvalidError};
 * a key set that cannot be fetched fails like any call to digi.me.
 * @module
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";
import { TokenKeySetUntrustedError, TokenResponseInvalidError } from "../../errors.js";
import { withBackoff } from "../../internal/backoff.js";
import { callDigime, WireHttpError } from "./http.js";

/** How long a fetched key set is reused before it is fetched again. */
const KEY_SET_TTL_MS = 10 * 60 * 1000;
/** Key set URLs remembered at once; digi.me uses one, so more means something odd: start over. */
const MAX_CACHED_KEY_SETS = 8;
/** Key set fetches are plain GETs: retry transient failures, as the SDK's HTTP client does. */
const KEY_SET_RETRIES = 2;

const keySetSchema = z.object({
  keys: z.array(z.looseObject({ kid: z.string(), pem: z.string().optional() })).max(100),
});

type KeyEntry = z.infer<typeof keySetSchema>["keys"][number];

/** Verifies tokens digi.me signed; keeps fetched key sets for a while. */
export interface TokenVerifier {
  /** Verify `token` and return its payload; throws as described in the module. */
  verify(token: unknown): Promise<JWTPayload>;
}

/** What a verifier needs. */
export interface TokenVerifierOptions {
  /** Only key sets under this origin are fetched (`new URL(baseUrl).origin`). */
  trustedOrigin: string;
  /** Per request, ms. */
  timeoutMs: number;
}

function isTransient(error: unknown): boolean {
  if (error instanceof WireHttpError) {
    const status = error.response.statusCode;
    return status === 408 || status === 429 || status >= 500;
  }
  return error instanceof Error && error.name === "RequestError";
}

function keyOf(entry: KeyEntry): KeyObject {
  try {
    // digi.me's entries carry `pem` (what the SDK verifies with); fall back to the JWK members.
    return entry.pem === undefined ? createPublicKey({ key: entry as never, format: "jwk" }) : createPublicKey(entry.pem);
  } catch {
    throw new TokenResponseInvalidError(`the key "${entry.kid}" in the key set is not a usable public key`);
  }
}

/**
 * A verifier for tokens whose key sets live under `trustedOrigin`.
 *
 * @example
 * ```ts
 * const verifier = createTokenVerifier({ trustedOrigin: new URL(baseUrl).origin, timeoutMs: 30_000 });
 * const payload = await verifier.verify(answer.token);
 * ```
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const cache = new Map<string, { keys: KeyEntry[]; fetchedAt: number }>();

  const fetchKeySet = async (url: string): Promise<KeyEntry[]> => {
    const answer = await withBackoff(() => callDigime("digi.me's key set", url, { method: "GET", headers: { accept: "application/json" } }, options.timeoutMs), {
      retries: KEY_SET_RETRIES,
      minDelayMs: 50,
      maxDelayMs: 500,
      shouldRetry: isTransient,
    });
    const parsed = keySetSchema.safeParse(answer.json);
    if (!parsed.success) throw new TokenResponseInvalidError("the key set named by jku is not a { keys: [{ kid, pem }] } document");
    if (cache.size >= MAX_CACHED_KEY_SETS && !cache.has(url)) cache.clear();
    cache.set(url, { keys: parsed.data.keys, fetchedAt: Date.now() });
    return parsed.data.keys;
  };

  const findKey = async (url: string, kid: string): Promise<KeyObject> => {
    const cached = cache.get(url);
    const fresh = cached !== undefined && Date.now() - cached.fetchedAt < KEY_SET_TTL_MS;
    let entry = fresh ? cached.keys.find((key) => key.kid === kid) : undefined;
    // digi.me may have rotated its key since we cached the set: one fetch, not one per unknown kid forever.
    entry ??= (await fetchKeySet(url)).find((key) => key.kid === kid);
    if (entry === undefined) throw new TokenResponseInvalidError("its kid is not in digi.me's key set");
    return keyOf(entry);
  };

  return {
    async verify(token) {
      if (typeof token !== "string" || token.length === 0) throw new TokenResponseInvalidError("the answer has no token");
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw new TokenResponseInvalidError("it is not a JWT");
      }
      if (header.alg !== "PS512") throw new TokenResponseInvalidError(`its algorithm must be PS512, not ${JSON.stringify(String(header.alg)).slice(0, 20)}`);
      if (typeof header.jku !== "string" || typeof header.kid !== "string") throw new TokenResponseInvalidError("its header lacks jku or kid");
      let jku: URL;
      try {
        jku = new URL(header.jku);
      } catch {
        throw new TokenResponseInvalidError("its jku is not a URL");
      }
      if (jku.origin !== options.trustedOrigin) throw new TokenKeySetUntrustedError(jku.origin, options.trustedOrigin);
      const key = await findKey(jku.href, header.kid);
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ["PS512"] });
        return payload;
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw new TokenResponseInvalidError("it has expired");
        if (error instanceof joseErrors.JWTClaimValidationFailed) throw new TokenResponseInvalidError(`its ${error.claim} claim is not valid`);
        throw new TokenResponseInvalidError("its signature does not verify with digi.me's key");
      }
    },
  };
}
