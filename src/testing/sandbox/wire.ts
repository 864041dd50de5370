/**
 * What a failed server operation looks like on the wire: an HTTP response
 * (status, headers, raw body) or a network failure. Server operations throw a
 * {@link WireFailure}; each front end turns it into what its client would see
 * (the in-process fakes: the SDK's error objects; the HTTP front end: a response).
 * @module
 */
import { STATUS_CODES } from "node:http";
import { randomUUID } from "node:crypto";
import type { NetworkErrorCode } from "./types.js";

/**
 * An HTTP error response as it leaves the server.
 *
 * @example
 * ```ts
 * const response: WireResponse = { statusCode: 503, statusMessage: "Service Unavailable", headers: {}, body: "" };
 * ```
 */
export interface WireResponse {
  statusCode: number;
  statusMessage: string;
  /** Lower-case header names, as Node reports them. */
  headers: Record<string, string>;
  /** Raw body text: a JSON error document, or empty. */
  body: string;
}

/**
 * The two ways a call can fail on the wire.
 *
 * @example
 * ```ts
 * const detail: WireFailureDetail = { kind: "network", code: "ECONNRESET" };
 * ```
 */
export type WireFailureDetail = { kind: "response"; response: WireResponse } | { kind: "network"; code: NetworkErrorCode };

/**
 * Thrown by server operations; never reaches SDK callers as such.
 *
 * @example
 * ```ts
 * try { await server.refresh(request); } catch (e) { if (e instanceof WireFailure) render(e.detail); }
 * ```
 */
export class WireFailure extends Error {
  readonly detail: WireFailureDetail;

  constructor(detail: WireFailureDetail) {
    super(detail.kind === "network" ? `network failure ${detail.code}` : `HTTP ${detail.response.statusCode}`);
    this.name = "WireFailure";
    this.detail = detail;
  }
}

/**
 * The reason phrase of a status code, as got reports it in `statusMessage`.
 *
 * @example
 * ```ts
 * statusMessageOf(401); // "Unauthorized"
 * ```
 */
export function statusMessageOf(statusCode: number): string {
  return STATUS_CODES[statusCode] ?? "Unknown";
}

function headersWith(retryAfterSeconds: number | undefined): Record<string, string> {
  return retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) };
}

/**
 * A digi.me API error: JSON body `{ error: { code, message, reference } }`.
 * Messages must never contain token values; callers pass fixed texts.
 *
 * @example
 * ```ts
 * throw apiErrorFailure(401, "InvalidToken", "The token (refresh_token) is invalid");
 * ```
 */
export function apiErrorFailure(statusCode: number, code: string, message: string, retryAfterSeconds?: number): WireFailure {
  const body = JSON.stringify({ error: { code, message, reference: randomUUID() } });
  return new WireFailure({
    kind: "response",
    response: { statusCode, statusMessage: statusMessageOf(statusCode), headers: { "content-type": "application/json", ...headersWith(retryAfterSeconds) }, body },
  });
}

/**
 * An error status with an empty body, which the SDK cannot parse and so
 * surfaces as got's `HTTPError`.
 *
 * @example
 * ```ts
 * throw bareFailure(503, 30);
 * ```
 */
export function bareFailure(statusCode: number, retryAfterSeconds?: number): WireFailure {
  return new WireFailure({
    kind: "response",
    response: { statusCode, statusMessage: statusMessageOf(statusCode), headers: headersWith(retryAfterSeconds), body: "" },
  });
}

/**
 * A network-level failure (connection reset, timeout, refused, DNS).
 *
 * @example
 * ```ts
 * throw networkFailure("ECONNRESET");
 * ```
 */
export function networkFailure(code: NetworkErrorCode): WireFailure {
  return new WireFailure({ kind: "network", code });
}

/**
 * Whether a failure happens before any request body is sent (no connection),
 * so a streamed body is left unread.
 *
 * @example
 * ```ts
 * if (!failsBeforeUpload(failure)) await request.body();
 * ```
 */
export function failsBeforeUpload(failure: WireFailure): boolean {
  return failure.detail.kind === "network" && (failure.detail.code === "ECONNREFUSED" || failure.detail.code === "EAI_AGAIN");
}
