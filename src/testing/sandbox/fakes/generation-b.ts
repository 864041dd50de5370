/**
 * Generation B, SDK 10.x (`write` to the import endpoint). Reproduced behaviour:
 * - a 401 whose body is not a digi.me error document makes the SDK refresh
 *   once and write once more; the refreshed token is dropped (`write`
 *   resolves `undefined`), so the caller's token is dead from then on;
 * - a 401 WITH a JSON error body is turned into a ServerError before the
 *   refresh wrapper sees it, so it is thrown without a refresh (the sandbox
 *   answers stale tokens with a bare 401, so refresh happens; a fault rule
 *   `{ status: 401, errorCode: "InvalidToken" }` shows the other path);
 * - every concurrent call refreshes on its own;
 * - a stream is consumed by the first attempt.
 * @module
 */
import type { SdkGenerationB, SdkWriteOptionsB, UserAccessToken } from "../../../sdk/types.js";
import type { SandboxState } from "../state.js";
import { HTTPError, TypeValidationError } from "../sdk-errors.js";
import { exchangeCodeFor, getAuthorizeUrlFor, refreshFor } from "./authorization.js";
import { handleServerResponse } from "./client-errors.js";
import { importAttempt } from "./import-attempt.js";
import { isContractDetails, isFileMeta, isRecord, isUserAccessToken } from "./validation.js";

async function write(state: SandboxState, options: SdkWriteOptionsB): Promise<void> {
  const { contractDetails, userAccessToken, data } = (isRecord(options) ? options : {}) as Partial<SdkWriteOptionsB>;
  if (!isContractDetails(contractDetails, "B")) throw new TypeValidationError("Contract Details failed type validation.");
  if (!isUserAccessToken(userAccessToken, "B")) throw new TypeValidationError("User access token failed type validation.");
  if (!isFileMeta(data, "B")) {
    throw new TypeValidationError("Data object failed type validation. Is fileData, fileName, fileDescriptor set correctly?");
  }
  const upload = importAttempt(state, "B", contractDetails, data);
  // 10.x turns a JSON error body into a ServerError before its refresh step sees it.
  const attempt = async (token: UserAccessToken): Promise<void> => {
    try {
      await upload(token);
    } catch (gotError) {
      handleServerResponse(gotError, "v10");
      throw gotError;
    }
  };

  try {
    await attempt(userAccessToken);
    return;
  } catch (error) {
    if (!(error instanceof HTTPError)) throw error;
    if (error.response.statusCode !== 401) {
      handleServerResponse(error, "v10");
      throw error;
    }
  }
  const newTokens = await refreshFor(state, "B", contractDetails, userAccessToken);
  await attempt(newTokens);
}

/**
 * An in-process fake of SDK 10.x over a sandbox state.
 *
 * @example
 * ```ts
 * const sdk: SdkGenerationB = createGenerationB(state);
 * await sdk.write({ contractDetails, userAccessToken: token, data });
 * ```
 */
export function createGenerationB(state: SandboxState): SdkGenerationB {
  return {
    getAuthorizeUrl: (options) => getAuthorizeUrlFor(state, "B", options),
    exchangeCodeForToken: (options) => exchangeCodeFor(state, "B", options),
    write: (options) => write(state, options),
  };
}
