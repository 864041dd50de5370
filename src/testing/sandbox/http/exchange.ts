/**
 * The request and the outcome every HTTP endpoint works with, independent of
 * the transport: the msw handlers adapt a Fetch `Request`, the loopback
 * server a Node `IncomingMessage`. An outcome is a response or a dropped
 * connection, which each transport renders its own way.
 * @module
 */
import type { NetworkErrorCode } from "../types.js";
import { apiErrorFailure, WireFailure } from "../wire.js";

/**
 * One HTTP request as the endpoints see it.
 *
 * @example
 * ```ts
 * const token = request.header("authorization");
 * const bytes = await request.body();
 * ```
 */
export interface SandboxHttpRequest {
  /** Upper-case method. */
  readonly method: string;
  readonly url: URL;
  /** A header by (case-insensitive) name, or undefined. */
  header(name: string): string | undefined;
  /** The whole body; read once, cached. */
  body(): Promise<Buffer>;
}

/**
 * What an endpoint answers: a response, or a connection the transport drops.
 *
 * @example
 * ```ts
 * const outcome: HttpOutcome = { kind: "response", status: 200, headers: { "content-type": "application/json" }, body: "{}" };
 * ```
 */
export type HttpOutcome =
  | { kind: "response"; status: number; headers: Record<string, string>; body: string }
  | { kind: "network"; code: NetworkErrorCode };

/**
 * A JSON response.
 *
 * @example
 * ```ts
 * return jsonOutcome(200, { status: "delivered", expires });
 * ```
 */
export function jsonOutcome(status: number, value: unknown): HttpOutcome {
  return { kind: "response", status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

/**
 * 400 `InvalidRequest` with a fixed message. Messages name what was wrong,
 * never the values sent (they may be tokens or codes).
 *
 * @example
 * ```ts
 * throw invalidRequest("The request body is not valid JSON");
 * ```
 */
export function invalidRequest(message: string): WireFailure {
  return apiErrorFailure(400, "InvalidRequest", message);
}

/**
 * The outcome of anything an endpoint threw: a {@link WireFailure} as its
 * response or dropped connection, anything else as a 500 that names only the
 * error's class, so a sandbox bug never echoes secrets from a message.
 *
 * @example
 * ```ts
 * try { return await handle(request); } catch (error) { return outcomeOfError(error); }
 * ```
 */
export function outcomeOfError(error: unknown): HttpOutcome {
  if (error instanceof WireFailure) {
    const { detail } = error;
    if (detail.kind === "network") return { kind: "network", code: detail.code };
    return { kind: "response", status: detail.response.statusCode, headers: { ...detail.response.headers }, body: detail.response.body };
  }
  const name = error instanceof Error ? error.name : typeof error;
  const failure = apiErrorFailure(500, "InternalError", `The sandbox failed unexpectedly (${name})`);
  return outcomeOfError(failure);
}
