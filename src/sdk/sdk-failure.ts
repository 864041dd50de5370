/**
 * Reads whatever the SDK threw (its own error classes, `got`'s HTTP and
 * request errors, Node's network errors) into one plain description, and
 * decides what the pipeline should do with it.
 */
import { redact } from "../internal/redact.js";

/** Network error codes after which retrying is reasonable. */
const RETRYABLE_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  // got's code for a request error without a system code (a socket that vanished, say).
  "ERR_GOT_REQUEST_ERROR",
]);

/** digi.me error codes that name a passing condition (server trouble, throttling). */
const TRANSIENT_CODE = /internal|unavailable|timeout|toomany|ratelimit|throttl|busy|temporar|gateway/i;

/** Codes after which the request may already have been processed by digi.me. */
const MAYBE_PROCESSED_NETWORK_CODES = new Set(["ECONNRESET", "ETIMEDOUT", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET", "ERR_GOT_REQUEST_ERROR"]);

/** What kind of failure the SDK reported. */
export type SdkFailureKind = "validation" | "sdk-invalid" | "http" | "network" | "unknown";

/** A description of an SDK failure, safe to log: no secrets, no request objects. */
export interface SdkFailureInfo {
  kind: SdkFailureKind;
  /** The thrown object's `name`, for diagnostics. */
  errorName: string;
  httpStatus?: number | undefined;
  sdkErrorCode?: string | undefined;
  networkCode?: string | undefined;
  retryAfterMs?: number | undefined;
  message: string;
}

/** How the pipeline treats a failure. */
export type FailureDecision = "retry" | "reject" | "invalid-token";

/**
 * The sanitized stand-in for an SDK error, used as `cause` of the library's
 * errors. It copies only safe fields, so logging the cause chain cannot print
 * a bearer token from a request object.
 */
export class SdkCallError extends Error {
  /** The full description, for re-deciding later. */
  readonly info: SdkFailureInfo;
  readonly kind: SdkFailureKind;
  readonly httpStatus: number | undefined;
  readonly sdkErrorCode: string | undefined;
  readonly networkCode: string | undefined;

  constructor(info: SdkFailureInfo) {
    super(`${info.errorName}: ${info.message}`);
    this.name = "SdkCallError";
    this.info = info;
    this.kind = info.kind;
    this.httpStatus = info.httpStatus;
    this.sdkErrorCode = info.sdkErrorCode;
    this.networkCode = info.networkCode;
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/**
 * A code or name copied from a foreign error or a response body: a short
 * identifier, or nothing. A body can hold anything (a token, a log-forging
 * line break), and these fields travel in errors and events as they are.
 */
function asIdentifier(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : undefined;
}

function asStatus(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined;
}

/** Parse a `Retry-After` header: delta seconds or an HTTP date. */
export function parseRetryAfter(header: unknown, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Error code in a JSON error body `{ error: { code } }`, when the body holds one. */
function codeFromBody(body: unknown): string | undefined {
  let parsed = body;
  if (Buffer.isBuffer(parsed)) parsed = parsed.toString("utf8");
  // An error body worth reading is small; a huge one is not parsed at all.
  if (typeof parsed === "string" && parsed.length > 65_536) return undefined;
  if (typeof parsed === "string") {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return undefined;
    }
  }
  const error = field(parsed, "error");
  return asIdentifier(field(error, "code")) ?? asIdentifier(error);
}

/** Describe anything the SDK threw. `secrets` are scrubbed from the message, and codes that hold one are dropped. */
export function describeSdkFailure(thrown: unknown, secrets: Iterable<string>, now: number): SdkFailureInfo {
  const list = [...secrets];
  const info = describe(thrown, list, now);
  // A hostile or broken server can put a token where the code goes: such a code is no code.
  for (const key of ["sdkErrorCode", "networkCode", "errorName"] as const) {
    const value = info[key];
    if (value !== undefined && redact(value, list) !== value) {
      if (key === "errorName") info.errorName = "Error";
      else info[key] = undefined;
    }
  }
  return info;
}

function describe(thrown: unknown, secrets: readonly string[], now: number): SdkFailureInfo {
  const errorName = asIdentifier(field(thrown, "name")) ?? asIdentifier(thrown instanceof Error ? thrown.constructor.name : typeof thrown) ?? "Error";
  const rawMessage = thrown instanceof Error ? thrown.message : asString(field(thrown, "message")) ?? String(thrown);
  const message = redact(rawMessage, secrets);
  const apiError = field(thrown, "error");
  const response = field(thrown, "response");
  const headers = field(response, "headers");
  const retryAfterMs = parseRetryAfter(field(headers, "retry-after") ?? field(headers, "Retry-After"), now);
  const code = asIdentifier(field(thrown, "code"));

  if (errorName === "TypeValidationError") return { kind: "validation", errorName, message };
  if (errorName === "SDKInvalidError") {
    return { kind: "sdk-invalid", errorName, message, sdkErrorCode: asIdentifier(field(apiError, "code")), httpStatus: asStatus(field(apiError, "statusCode")) };
  }
  const httpStatus = asStatus(field(apiError, "statusCode")) ?? asStatus(field(response, "statusCode")) ?? asStatus(field(thrown, "statusCode"));
  if (httpStatus !== undefined) {
    const sdkErrorCode = asIdentifier(field(apiError, "code")) ?? codeFromBody(field(response, "body"));
    return { kind: "http", errorName, message, httpStatus, sdkErrorCode, retryAfterMs };
  }
  // A ServerError without a status still carries digi.me's error code.
  const apiCode = asIdentifier(field(apiError, "code"));
  if (apiCode !== undefined) return { kind: "http", errorName, message, sdkErrorCode: apiCode };
  const causeCode = asIdentifier(field(field(thrown, "cause"), "code"));
  const networkCode = code !== undefined && (RETRYABLE_NETWORK_CODES.has(code) || code.startsWith("E")) ? code : causeCode;
  if (networkCode !== undefined || errorName === "RequestError" || errorName === "TimeoutError") {
    return { kind: "network", errorName, message, networkCode: networkCode ?? (errorName === "TimeoutError" ? "ETIMEDOUT" : undefined) };
  }
  return { kind: "unknown", errorName, message };
}

/** Decide what to do about a failure: retry it, reject the write, or treat the token as unusable. */
export function decide(info: SdkFailureInfo): FailureDecision {
  switch (info.kind) {
    case "validation":
    case "sdk-invalid":
    case "unknown":
      return "reject";
    case "network":
      return info.networkCode !== undefined && RETRYABLE_NETWORK_CODES.has(info.networkCode) ? "retry" : "reject";
    case "http": {
      const status = info.httpStatus;
      if (info.sdkErrorCode === "InvalidToken" || (status === 401 && info.sdkErrorCode === undefined)) return "invalid-token";
      // SDK 5.x–10.x drop the status of errors with a JSON body: judge by digi.me's code alone.
      if (status === undefined) return info.sdkErrorCode !== undefined && TRANSIENT_CODE.test(info.sdkErrorCode) ? "retry" : "reject";
      if (status === 408 || status === 429 || status >= 500) return "retry";
      return "reject";
    }
  }
}

/** Whether the failed request may have been processed before the failure (a duplicate on retry). */
export function mayHaveBeenProcessed(info: SdkFailureInfo): boolean {
  return info.kind === "network" && info.networkCode !== undefined && MAYBE_PROCESSED_NETWORK_CODES.has(info.networkCode);
}
