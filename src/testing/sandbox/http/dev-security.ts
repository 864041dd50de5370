/**
 * What keeps the dev server's pages to the person at this machine:
 *
 * - **Host check.** A page on another site can make a browser send requests
 *   to 127.0.0.1 under a name it controls (DNS rebinding) and read the
 *   answers as same-origin. The server answers only when the `Host` header
 *   names loopback (`localhost`, `127.0.0.1`, `[::1]`) or the bound host.
 * - **Form tokens.** Every form carries an HMAC of its purpose (the consent
 *   page: its code) under a secret made at start, so another site cannot post
 *   a consent or a control on the person's behalf (CSRF).
 * - **No framing.** Pages send `Content-Security-Policy: frame-ancestors
 *   'none'` and `X-Frame-Options: DENY` (clickjacking), and no referrer (the
 *   consent URL holds the pre-authorization code).
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Headers of every page for a person.
 *
 * @example
 * ```ts
 * response.writeHead(200, { ...PAGE_HEADERS });
 * ```
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy": "frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Whether a `Host` header names this server: a loopback name or the bound
 * host, with or without a port. A missing header is refused too.
 *
 * @example
 * ```ts
 * isAllowedHost("127.0.0.1:8787", "127.0.0.1"); // true
 * isAllowedHost("attacker.example:8787", "127.0.0.1"); // false
 * ```
 */
export function isAllowedHost(header: string | undefined, boundHost: string): boolean {
  if (header === undefined) return false;
  // A whole host with an optional port: "[::1]:8787", "127.0.0.1:8787", "localhost"; anything else is refused.
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(header.trim().toLowerCase());
  if (match === null) return false;
  const name = match[1]!;
  const bound = boundHost.includes(":") ? `[${boundHost}]` : boundHost;
  return LOOPBACK_NAMES.has(name) || name === bound;
}

/**
 * Form tokens of one server: `token(purpose)` for a form, `verify(purpose,
 * value)` on its post (constant time).
 *
 * @example
 * ```ts
 * const forms = createFormTokens();
 * forms.verify("consent:abc", forms.token("consent:abc")); // true
 * ```
 */
export interface FormTokens {
  token(purpose: string): string;
  verify(purpose: string, value: string | null | undefined): boolean;
}

/**
 * Make the form tokens of one server, under a secret that lives as long as it.
 *
 * @example
 * ```ts
 * const forms = createFormTokens();
 * ```
 */
export function createFormTokens(): FormTokens {
  const secret = randomBytes(32);
  const token = (purpose: string) => createHmac("sha256", secret).update(purpose).digest("base64url");
  return {
    token,
    verify: (purpose, value) => {
      if (typeof value !== "string") return false;
      const expected = Buffer.from(token(purpose));
      const given = Buffer.from(value);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
