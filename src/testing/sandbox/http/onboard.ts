/**
 * `GET <onboardUrl>authorize?code=…`: the consent screen, for a browser.
 * The simulated user approves at once and the browser is redirected (302) to
 * the app, exactly what `sandbox.consent(url)` returns. Denials are for tests
 * to ask for in process: `sandbox.consent(url, { approve: false })`.
 * @module
 */
import { performConsent } from "../consent.js";
import type { EndpointContext } from "./context.js";
import type { HttpOutcome, SandboxHttpRequest } from "./exchange.js";

/**
 * Handle the consent page.
 *
 * @example
 * ```ts
 * const outcome = await handleOnboard(ctx, request); // 302 to the app's callback
 * ```
 */
export async function handleOnboard(ctx: EndpointContext, request: SandboxHttpRequest): Promise<HttpOutcome> {
  let location: string;
  try {
    location = await performConsent(ctx.state, request.url.href);
  } catch (error) {
    // Consent errors are fixed texts about the URL (unknown, used, expired), never its values.
    const message = error instanceof Error ? error.message : "Sandbox consent failed";
    return { kind: "response", status: 400, headers: { "content-type": "text/plain; charset=utf-8" }, body: `${message}\n` };
  }
  return { kind: "response", status: 302, headers: { location, "content-type": "text/plain; charset=utf-8" }, body: "Approved; redirecting to the app.\n" };
}
