/**
 * The SDK's argument checks (its io-ts codecs), per generation, so the fakes
 * throw `TypeValidationError` exactly where the real SDK would. Notable
 * differences: 8.x requires a non-empty `contractDetails.redirectUri` in
 * EVERY call; 8.x accepts any `Stream` with a `read` method as file data,
 * later versions only `Readable`; 16.x tokens may carry `user` and `consentid`.
 * @module
 */
import { Readable, Stream } from "node:stream";
import type { ContractDetails, SdkFileMeta, UserAccessToken } from "../../../sdk/types.js";
import type { SandboxGeneration } from "../types.js";

/**
 * A plain object (what io-ts `t.type` accepts as a record).
 *
 * @example
 * ```ts
 * isRecord({ a: 1 }); // true
 * isRecord([1]);      // false
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A string with at least one character.
 *
 * @example
 * ```ts
 * isNonEmptyString(""); // false
 * ```
 */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * The SDK's `ContractDetailsCodec` for a generation.
 *
 * @example
 * ```ts
 * isContractDetails({ contractId, privateKey }, "A"); // false: 8.x needs redirectUri
 * ```
 */
export function isContractDetails(value: unknown, generation: SandboxGeneration): value is ContractDetails {
  if (!isRecord(value) || !isNonEmptyString(value.contractId) || !isNonEmptyString(value.privateKey)) return false;
  return generation === "A" ? isNonEmptyString(value.redirectUri) : true;
}

function isToken(value: unknown): boolean {
  return isRecord(value) && typeof value.value === "string" && typeof value.expiry === "number";
}

/**
 * The SDK's `UserAccessTokenCodec` for a generation.
 *
 * @example
 * ```ts
 * isUserAccessToken(token, "C");
 * ```
 */
export function isUserAccessToken(value: unknown, generation: SandboxGeneration): value is UserAccessToken {
  if (!isRecord(value) || !isToken(value.accessToken) || !isToken(value.refreshToken)) return false;
  if (generation !== "C") return true;
  const { user, consentid } = value;
  const userOk = user === undefined || (isRecord(user) && (user.id === undefined || typeof user.id === "string"));
  return userOk && (consentid === undefined || typeof consentid === "string");
}

/**
 * Whether `value` counts as a readable stream for that generation's SDK.
 *
 * @example
 * ```ts
 * isSdkReadable(Readable.from(["x"]), "C"); // true
 * ```
 */
export function isSdkReadable(value: unknown, generation: SandboxGeneration): value is Readable {
  if (generation === "A") return value instanceof Stream && typeof (value as { read?: unknown }).read === "function";
  return value instanceof Readable;
}

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/**
 * The SDK's `PushedFileMetaCodec` for a generation.
 *
 * @example
 * ```ts
 * isFileMeta({ fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [] } }, "B"); // true
 * ```
 */
export function isFileMeta(value: unknown, generation: SandboxGeneration): value is SdkFileMeta {
  if (!isRecord(value)) return false;
  if (!Buffer.isBuffer(value.fileData) && !isSdkReadable(value.fileData, generation)) return false;
  if (typeof value.fileName !== "string") return false;
  const descriptor = value.fileDescriptor;
  if (!isRecord(descriptor) || typeof descriptor.mimeType !== "string" || !Array.isArray(descriptor.accounts)) return false;
  if (!descriptor.accounts.every((account) => isRecord(account) && typeof account.accountId === "string")) return false;
  if (descriptor.reference !== undefined && !isStringArray(descriptor.reference)) return false;
  return descriptor.tags === undefined || isStringArray(descriptor.tags);
}
