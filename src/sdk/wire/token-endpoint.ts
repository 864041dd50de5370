/**
 * digi.me's token endpoint (`POST <baseUrl>oauth/token`), spoken directly:
 * the refresh the SDK's public `refreshToken` makes (SDK 13.x and later),
 * for SDKs that lack it (generations A and B, and C before 13.x), and the
 * code exchange, for the HTTP SDK of the sandbox. The request is what the
 * SDK sends (a signed JWT in `Authorization`, no body); the answer is
 * verified (see `token-verification.ts`) and its claims checked before a
 * token is handed on.
 * @module
 */
import { z } from "zod";
import { TokenResponseInvalidError } from "../../errors.js";
import type { ContractDetails, UserAccessToken } from "../types.js";
import { callDigime } from "./http.js";
import { signRequestJwt } from "./signing.js";
import { createTokenVerifier } from "./token-verification.js";

/** The API root digi.me's SDK uses by default. */
export const DEFAULT_DIGIME_BASE_URL = "https://api.digi.me/v1.7/";
/** Per request, when not configured. */
export const DEFAULT_DIGIME_TIMEOUT_MS = 30_000;

/** Where and as whom to call digi.me. */
export interface TokenEndpointConfig {
  /** The application id given to the SDK's `init()`. */
  applicationId: string;
  /** The API root given to the SDK's `init()`, ending in `/`. */
  baseUrl: string;
  /** Per request, ms. */
  timeoutMs: number;
  /** Clock in epoch ms, to refuse a token pair that has already expired. */
  now: () => number;
}

/** The two grants of the token endpoint. */
export interface TokenEndpoint {
  /** Spend `userAccessToken`'s refresh token for a new pair. */
  refresh(contractDetails: ContractDetails, userAccessToken: UserAccessToken): Promise<UserAccessToken>;
  /** Exchange an authorization code and its PKCE verifier for the first pair. */
  exchangeCode(contractDetails: ContractDetails, code: string, codeVerifier: string): Promise<UserAccessToken>;
}

const tokenValue = z.object({ value: z.string().min(1).max(8192), expires_on: z.number().int().positive() });
const grantSchema = z.object({
  access_token: tokenValue,
  refresh_token: tokenValue,
  sub: z.string().max(1024).optional(),
  consentid: z.string().max(1024).optional(),
});
const answerSchema = z.object({ token: z.string().min(1).max(65_536) });

/**
 * A token endpoint client. `verify` is shared with the caller's other
 * digi.me calls so that the key set is fetched once.
 *
 * @example
 * ```ts
 * const endpoint = createTokenEndpoint({ applicationId, baseUrl: DEFAULT_DIGIME_BASE_URL, timeoutMs: 30_000, now: Date.now });
 * const next = await endpoint.refresh(contractDetails, userAccessToken);
 * ```
 */
export function createTokenEndpoint(config: TokenEndpointConfig, verifier = createTokenVerifier({ trustedOrigin: new URL(config.baseUrl).origin, timeoutMs: config.timeoutMs })): TokenEndpoint {
  const url = `${config.baseUrl}oauth/token`;

  const grant = async (contractDetails: ContractDetails, claims: Record<string, unknown>, expectedSub?: string): Promise<UserAccessToken> => {
    const jwt = await signRequestJwt({ applicationId: config.applicationId, contractId: contractDetails.contractId, privateKey: contractDetails.privateKey }, claims);
    const answer = await callDigime(
      "digi.me's token endpoint",
      url,
      { method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json", accept: "application/json" } },
      config.timeoutMs,
    );
    const body = answerSchema.safeParse(answer.json);
    if (!body.success) throw new TokenResponseInvalidError("the answer is not a JSON document with a token");
    const claimsOut = grantSchema.safeParse(await verifier.verify(body.data.token));
    if (!claimsOut.success) throw new TokenResponseInvalidError("its claims are not { access_token, refresh_token } with value and expires_on");
    const { access_token, refresh_token, sub, consentid } = claimsOut.data;
    // A refreshed pair belongs to the same library as the pair it replaces.
    if (expectedSub !== undefined && sub !== undefined && sub !== expectedSub) throw new TokenResponseInvalidError("its sub names another library than the token refreshed");
    const now = config.now();
    if (refresh_token.expires_on * 1000 <= now) throw new TokenResponseInvalidError("its refresh token has already expired");
    if (access_token.expires_on * 1000 <= now) throw new TokenResponseInvalidError("its access token has already expired");
    return {
      accessToken: { value: access_token.value, expiry: access_token.expires_on },
      refreshToken: { value: refresh_token.value, expiry: refresh_token.expires_on },
      ...(sub === undefined ? {} : { user: { id: sub } }),
      ...(consentid === undefined ? {} : { consentid }),
    };
  };

  return {
    refresh: (contractDetails, userAccessToken) =>
      grant(contractDetails, { grant_type: "refresh_token", refresh_token: userAccessToken.refreshToken.value }, userAccessToken.user?.id),
    exchangeCode: (contractDetails, code, codeVerifier) => grant(contractDetails, { code, code_verifier: codeVerifier, grant_type: "authorization_code" }),
  };
}
