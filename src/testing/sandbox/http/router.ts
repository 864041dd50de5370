/**
 * The endpoints of the HTTP front end in one table, so both transports serve
 * the same set: the msw handlers register each route with msw's own
 * matching, the loopback server matches with {@link matchRoute}. Every
 * handler runs through {@link dispatch}, which turns anything thrown into an
 * outcome: a handler never crashes a transport.
 * @module
 */
import type { SandboxEndpoint } from "../types.js";
import { handleAuthorize } from "./authorize.js";
import type { EndpointContext } from "./context.js";
import { outcomeOfError, type HttpOutcome, type SandboxHttpRequest } from "./exchange.js";
import { handleImport } from "./import.js";
import { handleJwks } from "./jwks.js";
import type { Mount } from "./mount.js";
import { handleOnboard } from "./onboard.js";
import { handlePostbox } from "./postbox.js";
import { handleToken } from "./token.js";

/**
 * One endpoint: its method, its path below a root (`:name` matches one
 * segment), and its handler.
 *
 * @example
 * ```ts
 * const route: Route = { endpoint: "token", method: "POST", root: "api", path: "oauth/token", handle: (ctx, request) => handleToken(ctx, request) };
 * ```
 */
export interface Route {
  /** The endpoint name fault rules use; `onboard` is the consent page. */
  readonly endpoint: SandboxEndpoint | "onboard";
  readonly method: "GET" | "POST";
  /** Below `baseUrl` (api) or `onboardUrl` (onboard). */
  readonly root: "api" | "onboard";
  readonly path: string;
  handle(ctx: EndpointContext, request: SandboxHttpRequest, params: Record<string, string>): Promise<HttpOutcome>;
}

/**
 * Every route the sandbox serves.
 *
 * @example
 * ```ts
 * for (const route of ROUTES) console.log(route.method, routeUrl(mount, route));
 * ```
 */
export const ROUTES: readonly Route[] = [
  { endpoint: "jwks", method: "GET", root: "api", path: "jwks/oauth", handle: (ctx) => handleJwks(ctx) },
  { endpoint: "authorize", method: "POST", root: "api", path: "oauth/authorize", handle: handleAuthorize },
  { endpoint: "token", method: "POST", root: "api", path: "oauth/token", handle: handleToken },
  { endpoint: "postbox", method: "POST", root: "api", path: "permission-access/postbox/:postboxId", handle: handlePostbox },
  { endpoint: "import", method: "POST", root: "api", path: "permission-access/import", handle: handleImport },
  { endpoint: "onboard", method: "GET", root: "onboard", path: "authorize", handle: handleOnboard },
];

/**
 * The absolute URL pattern of a route under a mount (msw syntax: `:name` params).
 *
 * @example
 * ```ts
 * routeUrl(mountOf(), ROUTES[1]!); // "https://sandbox.digi.me.invalid/v1.7/oauth/authorize"
 * ```
 */
export function routeUrl(mount: Mount, route: Route): string {
  return `${route.root === "api" ? mount.baseUrl : mount.onboardUrl}${route.path}`;
}

/**
 * What {@link matchRoute} found: a route with its params, a path that exists
 * for other methods, or nothing.
 *
 * @example
 * ```ts
 * const match: RouteMatch = matchRoute(mount, "POST", url);
 * if (match.kind === "route") await dispatch(match.route, ctx, request, match.params);
 * ```
 */
export type RouteMatch =
  | { kind: "route"; route: Route; params: Record<string, string> }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "none" };

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const expected = pattern.split("/");
  const actual = path.split("/");
  if (expected.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of expected.entries()) {
    const value = actual[index] ?? "";
    if (segment.startsWith(":")) {
      if (value === "") return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(value);
      } catch {
        return undefined;
      }
    } else if (segment !== value) {
      return undefined;
    }
  }
  return params;
}

/**
 * Find the route for a method and URL (query ignored).
 *
 * @example
 * ```ts
 * matchRoute(mount, "GET", new URL(mount.jwksUrl)).kind; // "route"
 * ```
 */
export function matchRoute(mount: Mount, method: string, url: URL): RouteMatch {
  const allow: string[] = [];
  for (const route of ROUTES) {
    const root = new URL(route.root === "api" ? mount.baseUrl : mount.onboardUrl);
    if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname)) continue;
    const params = matchPath(route.path, url.pathname.slice(root.pathname.length));
    if (params === undefined) continue;
    if (route.method === method) return { kind: "route", route, params };
    allow.push(route.method);
  }
  return allow.length > 0 ? { kind: "method-not-allowed", allow } : { kind: "none" };
}

/**
 * Run a route's handler; whatever it throws becomes an outcome (a WireFailure
 * its response or dropped connection, anything else a 500).
 *
 * @example
 * ```ts
 * const outcome = await dispatch(route, ctx, request, params);
 * ```
 */
export async function dispatch(route: Route, ctx: EndpointContext, request: SandboxHttpRequest, params: Record<string, string>): Promise<HttpOutcome> {
  try {
    return await route.handle(ctx, request, params);
  } catch (error) {
    return outcomeOfError(error);
  }
}
