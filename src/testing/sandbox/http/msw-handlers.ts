/**
 * msw request handlers over a sandbox: one per route, each adapting the
 * Fetch `Request` msw hands over and rendering the outcome as a `Response`
 * (a dropped connection as `Response.error()`, which msw turns into a
 * network error without a code).
 *
 * msw is an optional peer dependency: it is loaded when `handlers()` is
 * called, synchronously (Node 22.12+ can `require` an ES module, and then
 * shares the instance `import` gets), so importing
 * `digime-write-pipeline/testing` never needs it and
 * `setupServer(...sandbox.handlers())` stays one line.
 * @module
 */
import type { HttpHandler } from "msw";
import { requireOptionalPeer } from "../../../internal/optional-peer.js";
import type { SandboxState } from "../state.js";
import { httpContextOf, type EndpointContext } from "./context.js";
import type { HttpOutcome, SandboxHttpRequest } from "./exchange.js";
import { mountOf } from "./mount.js";
import { dispatch, ROUTES, routeUrl } from "./router.js";
import type { SandboxHandlersOptions } from "./types.js";

type Msw = typeof import("msw");

function loadMsw(): Msw {
  try {
    return requireOptionalPeer<Msw>("msw");
  } catch (failure) {
    throw new Error(
      "sandbox.handlers() needs msw 2 or later, installed in the project tests run from: npm install --save-dev msw (sandbox.listen() works without it)",
      { cause: failure },
    );
  }
}

/**
 * A Fetch `Request` as the endpoints see it.
 *
 * @example
 * ```ts
 * const outcome = await dispatch(route, ctx, fromFetchRequest(request), params);
 * ```
 */
export function fromFetchRequest(request: Request): SandboxHttpRequest {
  let body: Promise<Buffer> | undefined;
  return {
    method: request.method.toUpperCase(),
    url: new URL(request.url),
    header: (name) => request.headers.get(name) ?? undefined,
    body: () => (body ??= request.arrayBuffer().then((buffer) => Buffer.from(buffer))),
  };
}

/**
 * An outcome as a Fetch `Response`.
 *
 * @example
 * ```ts
 * return toFetchResponse(await dispatch(route, ctx, request, params));
 * ```
 */
export function toFetchResponse(outcome: HttpOutcome): Response {
  if (outcome.kind === "network") return Response.error();
  // Status codes without a body must not get one (the Response constructor refuses).
  const body = outcome.status === 204 || outcome.status === 304 ? null : outcome.body;
  return new Response(body, { status: outcome.status, headers: outcome.headers });
}

/**
 * msw handlers for every sandbox endpoint under `options.baseUrl` and
 * `options.onboardUrl`. Throws a TypeError for bad URLs and an Error when
 * msw cannot be loaded.
 *
 * @example
 * ```ts
 * const server = setupServer(...createMswHandlers(state));
 * ```
 */
export function createMswHandlers(state: SandboxState, options: SandboxHandlersOptions = {}): HttpHandler[] {
  const mount = mountOf(options.baseUrl, options.onboardUrl);
  const { http } = loadMsw();
  const ctx: EndpointContext = { state, http: httpContextOf(state), mount };
  return ROUTES.map((route) => {
    const register = route.method === "GET" ? http.get : http.post;
    return register(routeUrl(mount, route), async ({ request, params }) => {
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(params)) if (typeof value === "string") flat[name] = value;
      return toFetchResponse(await dispatch(route, ctx, fromFetchRequest(request), flat));
    });
  });
}
