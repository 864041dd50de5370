/**
 * The loopback server: the same routes as the msw handlers, served by
 * `node:http` so apps in another process (examples, browser tests, a real
 * SDK in a child process) can reach the sandbox. It binds loopback only. A
 * dropped-connection fault destroys the socket, so clients see a real
 * `ECONNRESET` ("socket hang up").
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SandboxState } from "../state.js";
import { apiErrorFailure } from "../wire.js";
import { httpContextOf } from "./context.js";
import { addFault, clearFaults, expireTokens, resetSandbox } from "./dev-controls.js";
import { consentDecision, consentPage, controlPost, livePage, overviewPage, type DevPagesContext } from "./dev-pages.js";
import { createFormTokens, isAllowedHost } from "./dev-security.js";
import { outcomeOfError, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { serverMount } from "./mount.js";
import { dispatch, matchRoute } from "./router.js";
import type { SandboxListenOptions, SandboxRequestLogEntry, SandboxServer } from "./types.js";

/**
 * The largest request body the server reads (bytes); a larger one gets 413.
 *
 * @example
 * ```ts
 * if (received > MAX_REQUEST_BODY_BYTES) throw tooLarge();
 * ```
 */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1"]);

function readBody(message: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    message.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_REQUEST_BODY_BYTES) {
        reject(apiErrorFailure(413, "PayloadTooLarge", `The request body exceeds ${MAX_REQUEST_BODY_BYTES} bytes`));
        message.pause();
        return;
      }
      chunks.push(chunk);
    });
    message.on("end", () => resolve(Buffer.concat(chunks)));
    message.on("error", reject);
  });
}

/**
 * A Node request as the endpoints see it. The URL is built from the
 * server's own origin and the request path, never from the Host header.
 *
 * @example
 * ```ts
 * const request = fromIncomingMessage(message, "http://127.0.0.1:8080");
 * ```
 */
export function fromIncomingMessage(message: IncomingMessage, origin: string): SandboxHttpRequest | undefined {
  const path = message.url ?? "";
  if (!path.startsWith("/") || !URL.canParse(`${origin}${path}`)) return undefined;
  let body: Promise<Buffer> | undefined;
  return {
    method: (message.method ?? "GET").toUpperCase(),
    url: new URL(`${origin}${path}`),
    header: (name) => {
      const value = message.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    body: () => (body ??= readBody(message)),
  };
}

function send(response: ServerResponse, outcome: HttpOutcome): void {
  if (outcome.kind === "network") {
    // The closest a server gets to a reset: the client sees the connection die mid-request.
    response.socket?.destroy();
    response.destroy();
    return;
  }
  response.writeHead(outcome.status, { ...outcome.headers, "content-length": String(Buffer.byteLength(outcome.body)) });
  response.end(outcome.body);
}

const CONTROLS: Record<string, (ctx: DevPagesContext) => (form: URLSearchParams) => ReturnType<typeof resetSandbox>> = {
  "/_sandbox/expire": (ctx) => (form) => expireTokens(ctx.state, form),
  "/_sandbox/faults": (ctx) => (form) => addFault(ctx.state, form),
  "/_sandbox/faults/clear": (ctx) => () => clearFaults(ctx.state),
  "/_sandbox/reset": (ctx) => () => resetSandbox(ctx.state),
};

/** The pages for a person (interactive mode), or undefined when the request is for the API. */
async function devPage(ctx: DevPagesContext, request: SandboxHttpRequest): Promise<HttpOutcome | undefined> {
  const path = `${request.url.origin}${request.url.pathname}`;
  if (request.method === "GET" && request.url.pathname === "/") return overviewPage(ctx, request);
  if (request.method === "GET" && request.url.pathname === "/_sandbox/live") return livePage(ctx);
  const control = CONTROLS[request.url.pathname];
  if (request.method === "POST" && control !== undefined) return controlPost(ctx, request, control(ctx));
  if (path !== `${ctx.mount.onboardUrl}authorize`) return undefined;
  if (request.method === "GET") return consentPage(ctx, request);
  if (request.method === "POST") return consentDecision(ctx, request);
  return undefined;
}

const misdirected = (): HttpOutcome => ({
  kind: "response",
  status: 421,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: "This sandbox answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1]).\n",
});

async function serve(ctx: DevPagesContext, origin: string, boundHost: string, message: IncomingMessage, response: ServerResponse, interactive: boolean): Promise<void> {
  // DNS rebinding: a page under another name must not reach the sandbox through the person's browser.
  if (!isAllowedHost(message.headers.host, boundHost)) return send(response, misdirected());
  const request = fromIncomingMessage(message, origin);
  if (request === undefined) return send(response, outcomeOfError(apiErrorFailure(400, "InvalidRequest", "The request target is not a path")));
  if (interactive) {
    const outcome = await devPage(ctx, request);
    if (outcome !== undefined) return send(response, outcome);
  }
  const match = matchRoute(ctx.mount, request.method, request.url);
  if (match.kind === "none") return send(response, outcomeOfError(apiErrorFailure(404, "NotFound", "No such endpoint in the sandbox")));
  if (match.kind === "method-not-allowed") {
    const outcome = outcomeOfError(apiErrorFailure(405, "MethodNotAllowed", "The endpoint does not accept this method"));
    return send(response, outcome.kind === "response" ? { ...outcome, headers: { ...outcome.headers, allow: match.allow.join(", ") } } : outcome);
  }
  send(response, await dispatch(match.route, ctx, request, match.params));
}

function logWhenDone(message: IncomingMessage, response: ServerResponse, onRequest: (entry: SandboxRequestLogEntry) => void): void {
  const started = performance.now();
  const target = message.url ?? "";
  const query = target.indexOf("?");
  const entry = (status: number | "dropped"): SandboxRequestLogEntry => ({
    method: message.method ?? "GET",
    path: query === -1 ? target : target.slice(0, query),
    status,
    durationMs: Math.round(performance.now() - started),
  });
  let logged = false;
  const log = (status: number | "dropped") => {
    if (logged) return;
    logged = true;
    try {
      onRequest(entry(status));
    } catch {
      // A failing logger must not take the server down.
    }
  };
  response.once("finish", () => log(response.statusCode));
  response.once("close", () => log(response.writableFinished ? response.statusCode : "dropped"));
}

function validate(options: SandboxListenOptions): { port: number; host: string; interactive: boolean; onRequest: ((entry: SandboxRequestLogEntry) => void) | undefined } {
  if (typeof options !== "object" || options === null) throw new TypeError("sandbox.listen: options must be an object");
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("sandbox.listen: port must be an integer from 0 to 65535");
  const host = options.host ?? "127.0.0.1";
  if (!LOOPBACK_HOSTS.has(host)) throw new RangeError('sandbox.listen: host must be a loopback address ("127.0.0.1" or "::1")');
  const interactive = options.interactive ?? false;
  if (typeof interactive !== "boolean") throw new TypeError("sandbox.listen: interactive must be a boolean");
  const onRequest = options.onRequest;
  if (onRequest !== undefined && typeof onRequest !== "function") throw new TypeError("sandbox.listen: onRequest must be a function");
  return { port, host, interactive, onRequest };
}

/**
 * Start a loopback server over a sandbox state.
 *
 * @example
 * ```ts
 * const server = await startSandboxServer(state, { port: 0 });
 * await fetch(server.jwksUrl);
 * await server.close();
 * ```
 */
export async function startSandboxServer(state: SandboxState, options: SandboxListenOptions = {}): Promise<SandboxServer> {
  const { port, host, interactive, onRequest } = validate(options);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const origin = host.includes(":") ? `http://[${host}]:${address.port}` : `http://${host}:${address.port}`;
  const mount = serverMount(origin);
  const ctx: DevPagesContext = { state, http: httpContextOf(state), mount, forms: createFormTokens() };
  server.on("request", (message: IncomingMessage, response: ServerResponse) => {
    if (onRequest !== undefined) logWhenDone(message, response, onRequest);
    serve(ctx, origin, host, message, response, interactive).catch(() => {
      // Only a transport failure gets here (the endpoints' errors are outcomes): drop the connection.
      response.destroy();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/`,
    baseUrl: mount.baseUrl,
    onboardUrl: mount.onboardUrl,
    jwksUrl: mount.jwksUrl,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets (Node's default agent keeps them) would hold close() open.
        server.closeAllConnections();
      })),
  };
}
