/**
 * Generation C, SDK 16.x (`pushData` to the import endpoint, public
 * `refreshToken`). Reproduced behaviour:
 * - any 401 makes the SDK refresh once and push once more, then call
 *   `onAccessTokenChange(newToken)` if the token changed; if the second push
 *   fails, its raw got error is thrown and the refreshed token is lost (the
 *   old refresh token is already consumed);
 * - other failures: ServerError when the body is a digi.me error, else got's error;
 * - every concurrent call refreshes on its own;
 * - a stream is consumed by the first attempt;
 * - an unknown `type` does nothing; `type: "provider"` is not simulated.
 * @module
 */
import type { SdkGenerationC, SdkPushDataOptions, SdkRefreshTokenOptions, UserAccessToken } from "../../../sdk/types.js";
import type { SandboxState } from "../state.js";
import { DigiMeSDKError, TypeValidationError } from "../sdk-errors.js";
import { exchangeCodeFor, getAuthorizeUrlFor, refreshFor } from "./authorization.js";
import { shouldThrowError } from "./client-errors.js";
import { importAttempt } from "./import-attempt.js";
import { isContractDetails, isFileMeta, isRecord, isUserAccessToken } from "./validation.js";

/**
 * The fake of SDK 16.x: generation C with `refreshToken` always present.
 *
 * @example
 * ```ts
 * const sdk: SandboxSdkV16 = sandbox.sdk("v16");
 * const fresh = await sdk.refreshToken({ contractDetails, userAccessToken });
 * ```
 */
export interface SandboxSdkV16 extends SdkGenerationC {
  /** Spends the refresh token for a new pair, as SDK 16.x does. */
  refreshToken(options: SdkRefreshTokenOptions): Promise<UserAccessToken>;
}

async function pushToLibrary(state: SandboxState, options: SdkPushDataOptions): Promise<UserAccessToken> {
  const { contractDetails, userAccessToken, data } = options;
  if (!isFileMeta(data, "C")) {
    throw new TypeValidationError("Data object failed type validation. Is fileData, fileName, fileDescriptor set correctly?");
  }
  const upload = importAttempt(state, "C", contractDetails, data);
  const attempt = async (token: UserAccessToken): Promise<UserAccessToken> => {
    await upload(token);
    return token;
  };

  try {
    return await attempt(userAccessToken);
  } catch (error) {
    shouldThrowError(error);
  }
  const newTokens = await refreshFor(state, "C", contractDetails, userAccessToken);
  return attempt(newTokens);
}

async function pushData(state: SandboxState, options: SdkPushDataOptions): Promise<void> {
  const { type, contractDetails, userAccessToken, onAccessTokenChange } = (isRecord(options) ? options : {}) as Partial<SdkPushDataOptions>;
  if (!isContractDetails(contractDetails, "C")) throw new TypeValidationError("Contract Details failed type validation.");
  if (!isUserAccessToken(userAccessToken, "C")) throw new TypeValidationError("User access token failed type validation.");
  let current: UserAccessToken | undefined;
  if (type === "library") {
    if (!isFileMeta(options.data, "C")) throw new TypeValidationError("Push to library type validation failed.");
    current = await pushToLibrary(state, options);
  }
  if ((type as string) === "provider") throw new DigiMeSDKError("The sandbox does not simulate pushes to providers");
  if (current !== undefined && current !== userAccessToken && typeof onAccessTokenChange === "function") {
    onAccessTokenChange(current);
  }
}

async function refreshToken(state: SandboxState, options: SdkRefreshTokenOptions): Promise<UserAccessToken> {
  // The SDK does not validate here (it would fail with a TypeError); a clear error helps more.
  if (!isRecord(options) || !isContractDetails(options.contractDetails, "C") || !isUserAccessToken(options.userAccessToken, "C")) {
    throw new TypeValidationError("refreshToken requires contractDetails and userAccessToken.");
  }
  return refreshFor(state, "C", options.contractDetails, options.userAccessToken);
}

/**
 * An in-process fake of SDK 16.x over a sandbox state.
 *
 * @example
 * ```ts
 * const sdk = createGenerationC(state);
 * await sdk.pushData({ type: "library", contractDetails, userAccessToken: token, data, onAccessTokenChange: save });
 * ```
 */
export function createGenerationC(state: SandboxState): SandboxSdkV16 {
  return {
    getAuthorizeUrl: (options) => getAuthorizeUrlFor(state, "C", options),
    exchangeCodeForToken: (options) => exchangeCodeFor(state, "C", options),
    pushData: (options) => pushData(state, options),
    refreshToken: (options) => refreshToken(state, options),
  };
}
