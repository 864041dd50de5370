/**
 * How the SDK's client side turns a failed request into what its caller
 * catches, reproduced from the SDK's `net.ts` (8.x, 10.x, 16.x):
 * - got raises `HTTPError` for an error status, `RequestError` for a network failure;
 * - `handleServerResponse` replaces an `HTTPError` whose body parses as a
 *   digi.me error document with a `ServerError` (or `SDKInvalidError`); any
 *   other body leaves the `HTTPError` as it is;
 * - 16.x's `shouldThrowError` decides whether a failed push may be retried
 *   after a refresh.
 * @module
 */
import { HTTPError, RequestError, SDKInvalidError, ServerError, type ApiError } from "../sdk-errors.js";
import type { NetworkErrorCode } from "../types.js";
import { WireFailure } from "../wire.js";
import { BodyReadError } from "./file-data.js";

/**
 * Which SDK's `handleServerResponse` to imitate: 8.x/10.x pass the body's
 * `error` through; 16.x adds `reference`, `statusCode` and `statusMessage`.
 *
 * @example
 * ```ts
 * const flavour: ErrorFlavour = "v16";
 * ```
 */
export type ErrorFlavour = "v8" | "v10" | "v16";

const NETWORK_MESSAGES: Record<NetworkErrorCode, { message: string; syscall: string }> = {
  ECONNRESET: { message: "read ECONNRESET", syscall: "read" },
  ETIMEDOUT: { message: "connect ETIMEDOUT 192.0.2.1:443", syscall: "connect" },
  ECONNREFUSED: { message: "connect ECONNREFUSED 192.0.2.1:443", syscall: "connect" },
  EAI_AGAIN: { message: "getaddrinfo EAI_AGAIN sandbox.digi.me.invalid", syscall: "getaddrinfo" },
};

/**
 * What got would throw for a failed call. A stream that errors while being
 * uploaded becomes a RequestError carrying its code, as in got.
 *
 * @example
 * ```ts
 * try { await importFile(state, request); } catch (e) { throw gotErrorOf(e); }
 * ```
 */
export function gotErrorOf(thrown: unknown): unknown {
  if (thrown instanceof WireFailure) {
    const { detail } = thrown;
    if (detail.kind === "network") return new RequestError(NETWORK_MESSAGES[detail.code].message, detail.code);
    return new HTTPError({ ...detail.response, headers: { ...detail.response.headers } });
  }
  if (thrown instanceof BodyReadError) {
    const code = (thrown.original as { code?: unknown } | undefined)?.code;
    return new RequestError(thrown.message, typeof code === "string" ? code : "ERR_GOT_REQUEST_ERROR");
  }
  return thrown;
}

/**
 * Run a server call as got would: failures come out as got errors.
 *
 * @example
 * ```ts
 * const grant = await viaGot(() => refresh(state, request));
 * ```
 */
export async function viaGot<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw gotErrorOf(error);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isApiErrorResponse(body: unknown): body is { error: { code: string; message: string } & Record<string, unknown> } {
  return isRecord(body) && isRecord(body.error) && typeof body.error.code === "string" && typeof body.error.message === "string";
}

/** 16.x also accepts a storage error `{ error?: string, message?: string }` (any object whose such fields are strings). */
function isStorageErrorResponse(body: unknown): body is { error?: string; message?: string } {
  return isRecord(body) && (body.error === undefined || typeof body.error === "string") && (body.message === undefined || typeof body.message === "string");
}

function parseBody(body: unknown): unknown {
  const text = Buffer.isBuffer(body) ? body.toString("utf8") : body;
  if (typeof text !== "string") return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Throw the SDK's ServerError/SDKInvalidError when `error` is an HTTPError
 * with a digi.me error document; otherwise return and let the caller rethrow.
 *
 * @example
 * ```ts
 * catch (error) { handleServerResponse(error, "v10"); throw error; }
 * ```
 */
export function handleServerResponse(error: unknown, flavour: ErrorFlavour): void {
  if (!(error instanceof HTTPError)) return;
  const body = parseBody(error.response.body);
  if (flavour !== "v16") {
    if (!isApiErrorResponse(body)) return;
    const apiError = body.error as ApiError;
    const invalidSdk = apiError.code === "SDKInvalid" || apiError.code === "SDKVersionInvalid";
    throw invalidSdk ? new SDKInvalidError(apiError.message, apiError) : new ServerError(apiError.message, apiError);
  }
  let code: string | undefined;
  let message: string | undefined;
  let reference: string | undefined;
  if (isApiErrorResponse(body)) {
    code = body.error.code;
    message = body.error.message;
    reference = typeof body.error.reference === "string" ? body.error.reference : undefined;
  } else if (isStorageErrorResponse(body)) {
    code = body.error;
    message = body.message;
  } else {
    return;
  }
  const status = { statusCode: error.response.statusCode, statusMessage: error.response.statusMessage };
  if (code === "SDKInvalid" || code === "SDKVersionInvalid") {
    const text = message ?? "Invalid SDK version";
    throw new SDKInvalidError(text, { code, message: text, reference: reference ?? "Unknown reference", ...status });
  }
  const text = message ?? "Server error";
  throw new ServerError(text, { code: code ?? "DigiMeServerError", message: text, reference: reference ?? "Unknown reference", ...status });
}

/**
 * 16.x's gate in front of its refresh-and-retry: anything but a 401 is
 * thrown (as a ServerError when the body allows). For a 401 the SDK means to
 * rethrow errors other than `InvalidToken`, but it inspects got's *text*
 * body, which is never a parsed object, so every 401 leads to a refresh.
 *
 * @example
 * ```ts
 * try { return await attempt(token); } catch (error) { shouldThrowError(error); }
 * const fresh = await refresh();
 * ```
 */
export function shouldThrowError(error: unknown): void {
  if (!(error instanceof HTTPError)) throw error;
  if (error.response.statusCode !== 401) {
    handleServerResponse(error, "v16");
    throw error;
  }
  const body = error.response.body;
  if (isApiErrorResponse(body) && body.error.code !== "InvalidToken") {
    handleServerResponse(error, "v16");
    throw error;
  }
}

/**
 * What SDK 8.x rejects with when a *streamed* postbox write fails. That path
 * uses `https.request` directly and never reaches `handleServerResponse`:
 * a JSON error body rejects as the parsed plain object (not an Error), any
 * other error status as the response object, and a network failure as Node's
 * own system error (not a got RequestError).
 *
 * @example
 * ```ts
 * try { return await writeToPostbox(state, request); } catch (e) { throw streamRejectionOf(e); }
 * ```
 */
export function streamRejectionOf(thrown: unknown): unknown {
  if (thrown instanceof BodyReadError) return thrown.original;
  if (!(thrown instanceof WireFailure)) return thrown;
  const { detail } = thrown;
  if (detail.kind === "network") return systemError(detail.code);
  const parsed = parseBody(detail.response.body);
  if (parsed !== undefined) return parsed;
  const { statusCode, statusMessage, headers } = detail.response;
  return { statusCode, statusMessage, headers: { ...headers } };
}

/**
 * A Node system error like `net`/`dns` produce (`code`, `syscall`, message "read ECONNRESET").
 *
 * @example
 * ```ts
 * systemError("ECONNREFUSED").message; // "connect ECONNREFUSED 192.0.2.1:443"
 * ```
 */
export function systemError(code: NetworkErrorCode): Error & { code: string; syscall: string } {
  const { message, syscall } = NETWORK_MESSAGES[code];
  return Object.assign(new Error(message), { code, syscall });
}
