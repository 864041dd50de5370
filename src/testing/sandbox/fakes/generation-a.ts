/**
 * Generation A, SDK 8.x (`write` to a postbox). Reproduced behaviour:
 * - the postbox answers `pending` when the access token is stale; the SDK
 *   then refreshes once and pushes once more, returning the new token pair;
 *   otherwise it returns the very token object it was given;
 * - every concurrent call refreshes on its own (no single flight);
 * - buffer writes fail with got errors shaped by `handleServerResponse`;
 *   streamed writes bypass got and reject with raw values (a parsed error
 *   body, a response object, or Node's system error);
 * - a stream is consumed by the first push, so the push after a refresh sends
 *   an empty file.
 * @module
 */
import type { SdkGenerationA, SdkWriteOptionsA, SdkWriteResultA, UserAccessToken } from "../../../sdk/types.js";
import { publicKeyFingerprint } from "../keys.js";
import { plainUpload, writeToPostbox, type PostboxWriteResult } from "../server.js";
import type { SandboxState } from "../state.js";
import { TypeValidationError } from "../sdk-errors.js";
import { contractOf, exchangeCodeFor, getAuthorizeUrlFor, refreshFor } from "./authorization.js";
import { gotErrorOf, handleServerResponse, streamRejectionOf } from "./client-errors.js";
import { bodySourceOf } from "./file-data.js";
import { isContractDetails, isFileMeta, isNonEmptyString, isRecord, isUserAccessToken } from "./validation.js";

async function write(state: SandboxState, options: SdkWriteOptionsA): Promise<SdkWriteResultA> {
  const { contractDetails, userAccessToken, data, publicKey, postboxId } = (isRecord(options) ? options : {}) as Partial<SdkWriteOptionsA>;
  if (!isNonEmptyString(publicKey) || !isNonEmptyString(postboxId)) {
    throw new TypeValidationError("pushDataToPostbox requires the following properties to be set: postboxId, publicKey, sessionKey");
  }
  if (!isContractDetails(contractDetails, "A")) throw new TypeValidationError("Contract Details failed type validation.");
  if (!isUserAccessToken(userAccessToken, "A")) throw new TypeValidationError("User access token failed type validation.");
  if (!isFileMeta(data, "A")) {
    throw new TypeValidationError("Data object failed type validation. Is fileData, fileName, fileDescriptor set correctly?");
  }
  // node-rsa imports the key before anything is sent and throws a plain Error on garbage.
  if (publicKeyFingerprint(publicKey) === undefined) throw new Error("Invalid public key: not a PKCS#1 PEM public key");

  const streamed = !Buffer.isBuffer(data.fileData);
  const body = bodySourceOf(data.fileData, state.keepFileBytes);
  const push = async (accessToken: string): Promise<PostboxWriteResult> => {
    try {
      return await writeToPostbox(state, {
        contract: contractOf(contractDetails),
        postboxId,
        // The SDK only sends access_token when it is truthy.
        accessToken: accessToken === "" ? undefined : accessToken,
        body,
        unseal: plainUpload(publicKey, data.fileName, data.fileDescriptor),
      });
    } catch (error) {
      if (streamed) throw streamRejectionOf(error);
      const gotError = gotErrorOf(error);
      handleServerResponse(gotError, "v8");
      throw gotError;
    }
  };

  const first = await push(userAccessToken.accessToken.value);
  if (first.status !== "pending") return { ...first, userAccessToken };
  const newTokens: UserAccessToken = await refreshFor(state, "A", contractDetails, userAccessToken);
  const second = await push(newTokens.accessToken.value);
  return { ...second, userAccessToken: newTokens };
}

/**
 * An in-process fake of SDK 8.x over a sandbox state.
 *
 * @example
 * ```ts
 * const sdk: SdkGenerationA = createGenerationA(state);
 * const { status, userAccessToken } = await sdk.write({ contractDetails, userAccessToken: token, postboxId, publicKey, data });
 * ```
 */
export function createGenerationA(state: SandboxState): SdkGenerationA {
  return {
    getAuthorizeUrl: (options) => getAuthorizeUrlFor(state, "A", options),
    exchangeCodeForToken: (options) => exchangeCodeFor(state, "A", options),
    write: (options) => write(state, options),
  };
}
