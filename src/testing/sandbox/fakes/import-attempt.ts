/**
 * One upload to the import endpoint, as SDK 10.x and 16.x make it: the
 * server's failure comes back as the got error the SDK would see. The file
 * name is not sent (the import request carries the bytes and the descriptor
 * only), so digi.me, and this fake, never see it.
 */
import type { ContractDetails, SdkFileMeta, UserAccessToken } from "../../../sdk/types.js";
import { importFile } from "../server.js";
import type { SandboxState } from "../state.js";
import { contractOf } from "./authorization.js";
import { gotErrorOf } from "./client-errors.js";
import { bodySourceOf } from "./file-data.js";

/**
 * An attempt function for `data`, callable once per token (the SDK's first
 * try and its retry after a refresh). The body source is shared, so a stream
 * is consumed by the first attempt, as in the real SDK.
 *
 * @example
 * ```ts
 * const attempt = importAttempt(state, "C", contractDetails, data);
 * await attempt(userAccessToken);
 * ```
 */
export function importAttempt(
  state: SandboxState,
  generation: "B" | "C",
  contractDetails: ContractDetails,
  data: SdkFileMeta,
): (token: UserAccessToken) => Promise<void> {
  const body = bodySourceOf(data.fileData, state.keepFileBytes);
  return async (token) => {
    try {
      await importFile(state, {
        contract: contractOf(contractDetails),
        accessToken: token.accessToken.value,
        fileName: undefined,
        fileDescriptor: data.fileDescriptor,
        generation,
        body,
      });
    } catch (error) {
      throw gotErrorOf(error);
    }
  };
}
