/**
 * The library's own HTTP calls to digi.me (global `fetch`), failing the way
 * the SDK's calls fail, so that the pipeline's one failure classifier
 * (`sdk-failure.ts`) decides about them as it does about the SDK's: an HTTP
 * status with digi.me's error code, or a network error code. Nothing from the
 * request (it carries tokens) is kept in an error.
 * @module
 */
import { redact } from "../../internal/redact.js";

/**
 * An HTTP answer outside 2xx, shaped like the SDK's `HTTPError`/`ServerError`:
 * `response.statusCode`, `response.headers`, and `error: { code, message,
 * statusCode }` when the body is a digi.me error document.
 */
export class WireHttpError extends Error {
  readonly response: { statusCode: number; headers: Record<string, string> };
  /** digi.me's error code; its message is not kept, since a server may echo what it was sent. */
  readonly error: { code: string | undefined; statusCode: number };

  constructor(what: string, statusCode: number, headers: Record<string, string>, code: string | undefined) {
    super(redact(`${what} answered HTTP ${statusCode}${code === undefined ? "" : ` (${code})`}`));
    this.name = "HTTPError";
    this.response = { statusCode, headers };
    this.error = { code, statusCode };
  }
}

/** A request that got no HTTP answer; `code` is the network error code, as the SDK's `RequestError` has it. */
export class WireRequestError extends Error {
  readonly code: string;

  constructor(what: string, code: string) {
    super(`${what} failed without an answer (${code})`);
    this.name = "RequestError";
    this.code = code;
  }
}

/** A successful answer: status and parsed JSON body (undefined when the body is not JSON). */
export interface WireAnswer {
  status: number;
  json: unknown;
}

function networkCodeOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { name, cause } = error as { name?: unknown; cause?: unknown };
    if (name === "TimeoutError") return "ETIMEDOUT";
    const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
    if (typeof code === "string" && code.length > 0) return code;
  }
  // fetch reports a dropped connection without a code through some transports (msw's Response.error()).
  return "UND_ERR_SOCKET";
}

const ERROR_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** digi.me's error code from `{ error: { code } }`, when it looks like one (a code, not an echo of the request). */
function apiErrorCodeOf(json: unknown): string | undefined {
  const error = typeof json === "object" && json !== null ? (json as { error?: unknown }).error : undefined;
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && ERROR_CODE.test(code) ? code : undefined;
}

/**
 * Call `url`; resolve with a 2xx answer, throw {@link WireHttpError} or
 * {@link WireRequestError} otherwise. `what` names the call in messages.
 */
export async function callDigime(what: string, url: string, init: RequestInit, timeoutMs: number): Promise<WireAnswer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
    text = await response.text();
  } catch (error) {
    throw new WireRequestError(what, networkCodeOf(error));
  }
  let json: unknown;
  try {
    json = text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status < 200 || response.status > 299) {
    const headers: Record<string, string> = {};
    const retryAfter = response.headers.get("retry-after");
    if (retryAfter !== null) headers["retry-after"] = retryAfter;
    throw new WireHttpError(what, response.status, headers, apiErrorCodeOf(json));
  }
  return { status: response.status, json };
}
