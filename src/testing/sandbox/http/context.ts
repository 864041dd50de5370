/**
 * What the HTTP front end keeps beside the core state, once per sandbox and
 * shared by the msw handlers and the loopback server: the signing key, the
 * nonces seen, and which SDK generation each consent was made with (the
 * import endpoint cannot tell 10.x from 16.x by its requests).
 * @module
 */
import type { SandboxState } from "../state.js";
import type { SandboxGeneration } from "../types.js";
import type { Mount } from "./mount.js";
import { NonceRegistry } from "./nonces.js";
import { createSigningKey, type SigningKey } from "./signing-key.js";

/**
 * The HTTP front end's own memory for one sandbox.
 *
 * @example
 * ```ts
 * const http = httpContextOf(state);
 * const key = await http.signingKey();
 * ```
 */
export interface HttpContext {
  /** The server signing key, made on first use. */
  signingKey(): Promise<SigningKey>;
  readonly nonces: NonceRegistry;
  /** consent id → the generation of the SDK that asked for it. */
  readonly generations: Map<string, SandboxGeneration>;
}

/**
 * Everything an endpoint needs for one request.
 *
 * @example
 * ```ts
 * const ctx: EndpointContext = { state, http: httpContextOf(state), mount };
 * ```
 */
export interface EndpointContext {
  readonly state: SandboxState;
  readonly http: HttpContext;
  /** Where the front end that received the request answers (for the `jku`). */
  readonly mount: Mount;
}

const contexts = new WeakMap<SandboxState, HttpContext>();

/**
 * The HTTP context of a sandbox state, made on first use.
 *
 * @example
 * ```ts
 * const ctx: EndpointContext = { state, http: httpContextOf(state), mount };
 * ```
 */
export function httpContextOf(state: SandboxState): HttpContext {
  let context = contexts.get(state);
  if (context === undefined) {
    let key: Promise<SigningKey> | undefined;
    context = {
      signingKey: () => (key ??= createSigningKey()),
      nonces: new NonceRegistry(),
      generations: new Map(),
    };
    contexts.set(state, context);
  }
  return context;
}
