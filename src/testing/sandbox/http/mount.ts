/**
 * Where an HTTP front end answers: the API root (`baseUrl`), the consent UI
 * root (`onboardUrl`) and the JWKS document under the API root, which is the
 * `jku` of every token that front end signs, so the SDK fetches its keys from
 * the same place it sent the request.
 * @module
 */
import { SANDBOX_ONBOARD_URL } from "../fakes/authorization.js";

/**
 * The API root the msw handlers answer by default. `.invalid` never
 * resolves, so a request that escapes interception fails instead of leaving.
 *
 * @example
 * ```ts
 * init({ applicationId: sandbox.applicationId, baseUrl: SANDBOX_BASE_URL, onboardUrl: SANDBOX_ONBOARD_URL });
 * ```
 */
export const SANDBOX_BASE_URL = "https://sandbox.digi.me.invalid/v1.7/";

export { SANDBOX_ONBOARD_URL };

/** Path of the JWKS document below the API root. */
const JWKS_PATH = "jwks/oauth";

/**
 * The URLs of one front end.
 *
 * @example
 * ```ts
 * const mount: Mount = mountOf("http://127.0.0.1:8080/v1.7/", "http://127.0.0.1:8080/apps/saas/");
 * mount.jwksUrl; // "http://127.0.0.1:8080/v1.7/jwks/oauth"
 * ```
 */
export interface Mount {
  readonly baseUrl: string;
  readonly onboardUrl: string;
  readonly jwksUrl: string;
}

function rootUrl(value: string, name: string): string {
  if (typeof value !== "string" || !URL.canParse(value)) throw new TypeError(`sandbox: ${name} must be an absolute http(s) URL`);
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`sandbox: ${name} must be an absolute http(s) URL`);
  if (url.search !== "" || url.hash !== "") throw new TypeError(`sandbox: ${name} must not have a query or fragment`);
  // As the SDK's init() does: roots always end in a slash.
  return url.href.endsWith("/") ? url.href : `${url.href}/`;
}

/**
 * Validate and normalise a front end's roots (a trailing slash is added, as the SDK does).
 *
 * @example
 * ```ts
 * mountOf("https://api.digi.me/v1.7", "https://api.digi.me/apps/saas/").baseUrl; // "https://api.digi.me/v1.7/"
 * ```
 */
export function mountOf(baseUrl: string = SANDBOX_BASE_URL, onboardUrl: string = SANDBOX_ONBOARD_URL): Mount {
  const base = rootUrl(baseUrl, "baseUrl");
  return { baseUrl: base, onboardUrl: rootUrl(onboardUrl, "onboardUrl"), jwksUrl: `${base}${JWKS_PATH}` };
}

/**
 * The roots of a server at `origin` (`http://host:port`), laid out like digi.me's.
 *
 * @example
 * ```ts
 * serverMount("http://127.0.0.1:8080").onboardUrl; // "http://127.0.0.1:8080/apps/saas/"
 * ```
 */
export function serverMount(origin: string): Mount {
  return mountOf(`${origin}/v1.7/`, `${origin}/apps/saas/`);
}
