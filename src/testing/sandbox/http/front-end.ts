/**
 * The HTTP front end of one sandbox as `createSandbox` exposes it: msw
 * handlers, at most one loopback server at a time, and the URLs to give the
 * real SDK's `init()`: the server's while it listens, else the virtual host
 * the msw handlers answer by default.
 * @module
 */
import type { SandboxState } from "../state.js";
import { mountOf } from "./mount.js";
import { createMswHandlers } from "./msw-handlers.js";
import { startSandboxServer } from "./node-server.js";
import type { SandboxHandlersOptions, SandboxListenOptions, SandboxRequestHandler, SandboxServer } from "./types.js";

/**
 * The HTTP controls of a sandbox.
 *
 * @example
 * ```ts
 * const front = createHttpFrontEnd(state);
 * const server = await front.listen({ port: 0 });
 * front.baseUrl === server.baseUrl; // true while listening
 * ```
 */
export interface HttpFrontEnd {
  readonly baseUrl: string;
  readonly onboardUrl: string;
  handlers(options?: SandboxHandlersOptions): SandboxRequestHandler[];
  listen(options?: SandboxListenOptions): Promise<SandboxServer>;
  close(): Promise<void>;
}

/**
 * Build the HTTP front end over a state.
 *
 * @example
 * ```ts
 * const front = createHttpFrontEnd(state);
 * setupServer(...front.handlers());
 * ```
 */
export function createHttpFrontEnd(state: SandboxState): HttpFrontEnd {
  const virtual = mountOf();
  let server: SandboxServer | undefined;
  let starting: Promise<SandboxServer> | undefined;

  return {
    get baseUrl() {
      return server?.baseUrl ?? virtual.baseUrl;
    },
    get onboardUrl() {
      return server?.onboardUrl ?? virtual.onboardUrl;
    },
    handlers: (options) => createMswHandlers(state, options),
    listen: async (options = {}) => {
      if (server !== undefined || starting !== undefined) throw new Error("sandbox.listen: already listening; call sandbox.close() first");
      starting = startSandboxServer(state, options);
      try {
        const started = await starting;
        const running: SandboxServer = {
          ...started,
          close: async () => {
            // Forget it first, so the URLs fall back at once and listen() may run again.
            if (server === running) server = undefined;
            await started.close();
          },
        };
        server = running;
        return running;
      } finally {
        starting = undefined;
      }
    },
    close: async () => {
      await server?.close();
    },
  };
}
