/**
 * Error classes shaped like the ones the real SDK throws: its own
 * (`DigiMeSDKError`, `ServerError`, `SDKInvalidError`, `TypeValidationError`)
 * and those of its HTTP client got 11 (`RequestError`, `HTTPError`). Code that
 * handles the real SDK recognises these by `name` and fields; `instanceof`
 * only works against these sandbox classes, as the real ones live in
 * packages the library never imports.
 * @module
 */

/**
 * The `error` field of a ServerError: the API's error document. SDK 16.x adds
 * `reference` (default "Unknown reference"), `statusCode` and `statusMessage`;
 * SDK 8.x and 10.x pass the body's `error` object through as it came.
 *
 * @example
 * ```ts
 * const apiError: ApiError = { code: "InvalidToken", message: "The token (refresh_token) is invalid", statusCode: 401 };
 * ```
 */
export interface ApiError {
  /** digi.me's error code, for example `InvalidToken`. */
  code: string;
  /** Human-readable explanation. */
  message: string;
  /** SDK 16.x: a reference for digi.me support. */
  reference?: string;
  /** SDK 16.x: the HTTP status. */
  statusCode?: number;
  /** SDK 16.x: the HTTP status text. */
  statusMessage?: string;
}

/**
 * Base class of the SDK's own errors (name `"DigiMeSDKError"`).
 *
 * @example
 * ```ts
 * if (error instanceof DigiMeSDKError) console.log(error.name);
 * ```
 */
export class DigiMeSDKError extends Error {
  /** Always `"DigiMeSDKError"` here; subclasses set their own. */
  override name = "DigiMeSDKError";
}

/**
 * digi.me answered with a JSON error document (name `"DigiMeServerError"`).
 *
 * @example
 * ```ts
 * await expect(sdk.refreshToken({ contractDetails, userAccessToken: used })).rejects.toMatchObject({
 *   name: "DigiMeServerError",
 *   error: { code: "InvalidToken" },
 * });
 * ```
 */
export class ServerError extends DigiMeSDKError {
  /** `"DigiMeServerError"`, as the SDK names it. */
  override name = "DigiMeServerError";
  /** The API's error document. */
  error?: ApiError;

  constructor(message: string, error?: ApiError) {
    super(message);
    this.error = error;
  }
}

/**
 * The server rejected the SDK or its version (codes `SDKInvalid`, `SDKVersionInvalid`).
 *
 * @example
 * ```ts
 * sandbox.faults.add({ operation: "any", status: 400, errorCode: "SDKVersionInvalid" });
 * await expect(write()).rejects.toBeInstanceOf(SDKInvalidError);
 * ```
 */
export class SDKInvalidError extends ServerError {
  /** Always `"SDKInvalidError"`. */
  override name = "SDKInvalidError";
}

/**
 * An argument failed the SDK's own validation; nothing was sent.
 *
 * @example
 * ```ts
 * await expect(sdk.write({ ...options, postboxId: "" })).rejects.toBeInstanceOf(TypeValidationError);
 * ```
 */
export class TypeValidationError extends DigiMeSDKError {
  /** Always `"TypeValidationError"`. */
  override name = "TypeValidationError";
}

/**
 * The part of got's response object that error handlers read.
 *
 * @example
 * ```ts
 * const retryAfter = (error as HTTPError).response.headers["retry-after"];
 * ```
 */
export interface GotResponseLike {
  /** HTTP status, for example 503. */
  statusCode: number;
  /** HTTP status text, for example `Service Unavailable`. */
  statusMessage: string;
  /** Response headers, lower-case names. */
  headers: Record<string, string | undefined> & {
    /** Seconds to wait, when the server asked for a pause (429, 503). */
    "retry-after"?: string;
  };
  /** Raw body text (got's default `responseType: "text"`). */
  body: unknown;
}

/**
 * got 11's `RequestError` (name `"RequestError"`): the request failed below
 * HTTP, `code` says how (`ECONNRESET`, `ETIMEDOUT`, `ECONNREFUSED`, `EAI_AGAIN`).
 *
 * @example
 * ```ts
 * sandbox.faults.add({ network: "ECONNRESET", times: 1 });
 * await expect(write()).rejects.toMatchObject({ name: "RequestError", code: "ECONNRESET" });
 * ```
 */
export class RequestError extends Error {
  /** `"RequestError"`, as got names it. */
  override name = "RequestError";
  /** How the request failed, for example `ECONNRESET`. */
  readonly code: string;
  /** The response, when one arrived. */
  readonly response: GotResponseLike | undefined;

  constructor(message: string, code: string, response?: GotResponseLike) {
    super(message);
    this.code = code;
    this.response = response;
  }
}

/**
 * got 11's `HTTPError` (name `"HTTPError"`, code `"ERR_NON_2XX_3XX_RESPONSE"`):
 * an error status whose body the SDK could not read as a digi.me error.
 * Like got's, it extends RequestError.
 *
 * @example
 * ```ts
 * sandbox.faults.add({ status: 429, retryAfterSeconds: 3, times: 1 });
 * await expect(write()).rejects.toMatchObject({ name: "HTTPError", response: { statusCode: 429, headers: { "retry-after": "3" } } });
 * ```
 */
export class HTTPError extends RequestError {
  /** `"HTTPError"`, as got names it. */
  override name = "HTTPError";
  /** The error response: status, status text, headers and body. */
  declare readonly response: GotResponseLike;

  constructor(response: GotResponseLike) {
    super(`Response code ${response.statusCode} (${response.statusMessage})`, "ERR_NON_2XX_3XX_RESPONSE", response);
  }
}
