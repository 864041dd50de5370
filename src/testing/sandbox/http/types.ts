/**
 * Public types of the sandbox's HTTP front end: where it answers and how to
 * start its loopback server.
 * @module
 */

/**
 * A request handler for msw's `setupServer` (an msw `HttpHandler`). Typed as
 * `any` on purpose: msw is an optional peer dependency, and naming its
 * classes here would make this package's type declarations fail to compile
 * in projects that do not install msw.
 *
 * @example
 * ```ts
 * const handlers: SandboxRequestHandler[] = sandbox.handlers();
 * const server = setupServer(...handlers);
 * ```
 */
export type SandboxRequestHandler = any;

/**
 * Where `sandbox.handlers()` answers. Both URLs end in `/`, like the SDK's
 * own `baseUrl` and `onboardUrl` after `init()` adds the trailing slash.
 *
 * @example
 * ```ts
 * // Intercept the SDK's default URLs, so init({ applicationId }) needs nothing else:
 * server.use(...sandbox.handlers({ baseUrl: "https://api.digi.me/v1.7/", onboardUrl: "https://api.digi.me/apps/saas/" }));
 * ```
 */
export interface SandboxHandlersOptions {
  /**
   * The API root. Default `https://sandbox.digi.me.invalid/v1.7/` (`.invalid` never resolves, so nothing leaves the process).
   * @defaultValue `https://sandbox.digi.me.invalid/v1.7/`
   */
  baseUrl?: string;
  /**
   * The consent UI root. Default `https://sandbox.digi.me.invalid/apps/saas/`.
   * @defaultValue `https://sandbox.digi.me.invalid/apps/saas/`
   */
  onboardUrl?: string;
}

/**
 * Options of `sandbox.listen()`.
 *
 * @example
 * ```ts
 * const server = await sandbox.listen({ port: 0 }); // an ephemeral port on 127.0.0.1
 * ```
 */
export interface SandboxListenOptions {
  /**
   * TCP port; `0` (default) picks a free one.
   * @defaultValue `0` (a free port)
   */
  port?: number;
  /**
   * Loopback address to bind. Only loopback is allowed: the sandbox has no authentication worth the name. Default `"127.0.0.1"`.
   * @defaultValue `"127.0.0.1"`
   */
  host?: "127.0.0.1" | "::1";
  /**
   * Serve pages for a person (what the `digime-write-pipeline sandbox` dev
   * server does): the consent page asks, with an Approve and a Deny button,
   * instead of approving at once, and `GET /` lists the libraries and the
   * files delivered into them. Default `false`: the consent page approves
   * and redirects straight away, as tests expect.
   * @defaultValue `false`
   */
  interactive?: boolean;
  /**
   * Called once per request when its answer is sent (or the connection is
   * dropped): method, path without the query (which may hold an
   * authorization code), status and time taken. The dev server prints it.
   * Default: none.
   * @defaultValue none
   */
  onRequest?: ((entry: SandboxRequestLogEntry) => void) | undefined;
}

/**
 * One request as the loopback server answered it.
 *
 * @example
 * ```ts
 * await sandbox.listen({ onRequest: (e) => console.log(`${e.method} ${e.path} ${e.status} ${e.durationMs}ms`) });
 * ```
 */
export interface SandboxRequestLogEntry {
  /** The HTTP method, e.g. `"POST"`. */
  readonly method: string;
  /** The path only: the query is left out, as it may carry an authorization code. */
  readonly path: string;
  /** The status sent, or `"dropped"` when a fault or the client ended the connection first. */
  readonly status: number | "dropped";
  /** Milliseconds from the request's arrival to its answer. */
  readonly durationMs: number;
}

/**
 * A running loopback server of a sandbox.
 *
 * @example
 * ```ts
 * const { baseUrl, onboardUrl, close } = await sandbox.listen();
 * const sdk = init({ applicationId: sandbox.applicationId, baseUrl, onboardUrl });
 * await close();
 * ```
 */
export interface SandboxServer {
  /** The server's root, e.g. `http://127.0.0.1:49152/`. */
  readonly url: string;
  /** The API root to give the SDK's `init({ baseUrl })`. */
  readonly baseUrl: string;
  /** The consent UI root to give the SDK's `init({ onboardUrl })`. `GET <onboardUrl>authorize?code=…` approves and redirects (302) to the app. */
  readonly onboardUrl: string;
  /** Where the JWKS document lives (the `jku` of every token this server signs). */
  readonly jwksUrl: string;
  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void>;
}
