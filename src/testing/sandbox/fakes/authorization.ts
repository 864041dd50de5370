/**
 * The SDK calls every generation shares, with each generation's quirks:
 * `getAuthorizeUrl`, `exchangeCodeForToken` and the (internal before 13.x)
 * `refreshToken`.
 *
 * - 8.x: `state` optional; success redirects to `contractDetails.redirectUri`,
 *   errors to `callback`; the URL carries `callback`.
 * - 10.x: `state` required; `redirect_uri` is `callback`, so success and
 *   errors both go there; the URL has no `callback` (the 10.x source differs
 *   from older docs here).
 * - 16.x: as 10.x, and the URL adds `sourceType=pull`.
 * - Tokens from 8.x and 10.x hold only `accessToken` and `refreshToken`;
 *   16.x adds `user.id` (the library) and `consentid`.
 * @module
 */
import type { ContractDetails, UserAccessToken } from "../../../sdk/types.js";
import { pkceChallenge, randomSecret } from "../random.js";
import { authorize, exchange, refresh, type TokenGrant } from "../server.js";
import type { SandboxState } from "../state.js";
import { TypeValidationError } from "../sdk-errors.js";
import type { SandboxContract, SandboxGeneration } from "../types.js";
import { handleServerResponse, viaGot, type ErrorFlavour } from "./client-errors.js";
import { isContractDetails, isNonEmptyString, isRecord, isUserAccessToken } from "./validation.js";

/**
 * Where the sandbox's consent screen "lives"; `.invalid` never resolves, so nothing leaves the process.
 *
 * @example
 * ```ts
 * url.startsWith(`${SANDBOX_ONBOARD_URL}authorize?`); // true for every sandbox authorize URL
 * ```
 */
export const SANDBOX_ONBOARD_URL = "https://sandbox.digi.me.invalid/apps/saas/";

/**
 * The result of the fakes' `getAuthorizeUrl`, as the SDK returns it.
 *
 * @example
 * ```ts
 * const { url, codeVerifier, session }: AuthorizeUrlResult = await sdk.getAuthorizeUrl(options);
 * ```
 */
export interface AuthorizeUrlResult {
  url: string;
  codeVerifier: string;
  session: { key: string; expiry: number };
}

/**
 * The error flavour of a generation's SDK.
 *
 * @example
 * ```ts
 * flavourOf("B"); // "v10"
 * ```
 */
export function flavourOf(generation: SandboxGeneration): ErrorFlavour {
  return generation === "A" ? "v8" : generation === "B" ? "v10" : "v16";
}

/**
 * The credentials part of contract details.
 *
 * @example
 * ```ts
 * const contract = contractOf({ ...sandbox.contractDetails, redirectUri });
 * ```
 */
export function contractOf(details: ContractDetails): SandboxContract {
  return { contractId: details.contractId, privateKey: details.privateKey };
}

/**
 * A token grant in the shape a generation's SDK returns.
 *
 * @example
 * ```ts
 * const token = formatToken(grant, "C"); // with user.id and consentid
 * ```
 */
export function formatToken(grant: TokenGrant, generation: SandboxGeneration): UserAccessToken {
  const pair: UserAccessToken = {
    accessToken: { value: grant.access_token.value, expiry: grant.access_token.expires_on },
    refreshToken: { value: grant.refresh_token.value, expiry: grant.refresh_token.expires_on },
  };
  return generation === "C" ? { ...pair, user: { id: grant.sub }, consentid: grant.consentid } : pair;
}

/** Call the server as got would, then let the SDK's handleServerResponse shape the error. */
async function call<T>(generation: SandboxGeneration, operation: () => Promise<T>): Promise<T> {
  try {
    return await viaGot(operation);
  } catch (error) {
    handleServerResponse(error, flavourOf(generation));
    throw error;
  }
}

function isValidAuthorizeOptions(props: unknown, generation: SandboxGeneration): props is Record<string, unknown> & { contractDetails: ContractDetails; callback: string } {
  if (!isRecord(props) || !isContractDetails(props.contractDetails, generation) || !isNonEmptyString(props.callback)) return false;
  const stateOk = generation === "A" ? props.state === undefined || typeof props.state === "string" : typeof props.state === "string";
  const serviceOk = props.serviceId === undefined || typeof props.serviceId === "number";
  const tokenOk = props.userAccessToken === undefined || isUserAccessToken(props.userAccessToken, generation);
  return stateOk && serviceOk && tokenOk;
}

/**
 * `getAuthorizeUrl` of a generation: makes the PKCE verifier itself, registers
 * the request with the server, builds the consent URL.
 *
 * @example
 * ```ts
 * const { url, codeVerifier } = await getAuthorizeUrlFor(state, "C", { contractDetails, callback, state: "s1" });
 * ```
 */
export async function getAuthorizeUrlFor(state: SandboxState, generation: SandboxGeneration, props: unknown): Promise<AuthorizeUrlResult> {
  if (!isValidAuthorizeOptions(props, generation)) {
    throw new TypeValidationError("Parameters failed validation. props should be a plain object that contains the properties contractDetails and callback.");
  }
  const { contractDetails, callback } = props;
  const userAccessToken = props.userAccessToken as UserAccessToken | undefined;
  const serviceId = props.serviceId as number | undefined;
  const codeVerifier = randomSecret(32);
  const result = await call(generation, () =>
    authorize(state, {
      contract: contractOf(contractDetails),
      generation,
      codeChallenge: pkceChallenge(codeVerifier),
      state: props.state as string | undefined,
      successRedirect: generation === "A" ? (contractDetails.redirectUri ?? "") : callback,
      errorRedirect: callback,
      accessToken: userAccessToken?.accessToken.value,
      serviceId,
    }),
  );
  const url = new URL(`${state.onboardUrl?.() ?? SANDBOX_ONBOARD_URL}authorize`);
  url.searchParams.set("code", result.preauthorizationCode);
  if (generation === "A") url.searchParams.set("callback", callback);
  if (generation === "C") url.searchParams.set("sourceType", "pull");
  // The SDK spreads `serviceId && {...}`, so 0 adds nothing.
  if (serviceId) url.searchParams.set("service", String(serviceId));
  return { url: url.toString(), codeVerifier, session: result.session };
}

/**
 * `exchangeCodeForToken` of a generation.
 *
 * @example
 * ```ts
 * const token = await exchangeCodeFor(state, "C", { contractDetails, authorizationCode, codeVerifier });
 * ```
 */
export async function exchangeCodeFor(state: SandboxState, generation: SandboxGeneration, options: unknown): Promise<UserAccessToken> {
  if (
    !isRecord(options) ||
    !isContractDetails(options.contractDetails, generation) ||
    !isNonEmptyString(options.authorizationCode) ||
    !isNonEmptyString(options.codeVerifier)
  ) {
    throw new TypeValidationError(
      "Parameters failed validation. props should be a plain object that contains the properties contractDetails, authorizationCode and codeVerifier",
    );
  }
  const { contractDetails, authorizationCode, codeVerifier } = options;
  const grant = await call(generation, () => exchange(state, { contract: contractOf(contractDetails), code: authorizationCode, codeVerifier }));
  return formatToken(grant, generation);
}

/**
 * The SDK's `refreshToken`: one call, no retry, a new object every time.
 *
 * @example
 * ```ts
 * const fresh = await refreshFor(state, "C", contractDetails, userAccessToken);
 * ```
 */
export async function refreshFor(state: SandboxState, generation: SandboxGeneration, contractDetails: ContractDetails, userAccessToken: UserAccessToken): Promise<UserAccessToken> {
  const grant = await call(generation, () => refresh(state, { contract: contractOf(contractDetails), refreshToken: userAccessToken.refreshToken.value }));
  return formatToken(grant, generation);
}
