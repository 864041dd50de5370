/**
 * The user's side of authorization: open the authorize URL, approve or deny,
 * and be redirected back. Returns the redirect URL instead of following it.
 * @module
 */
import { randomId } from "./random.js";
import type { SandboxState } from "./state.js";
import type { ConsentOptions } from "./types.js";

/**
 * Default `errorCode` of a denial: the user closed the consent screen.
 *
 * @example
 * ```ts
 * new URL(await sandbox.consent(url, { approve: false })).searchParams.get("errorCode") === DEFAULT_DENIAL_CODE;
 * ```
 */
export const DEFAULT_DENIAL_CODE = "UserCancelled";

function withParams(target: string, params: Record<string, string | undefined>): string {
  // Keep whatever query the app put on its redirect target; add ours.
  const url = new URL(target);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}

function preauthorizationCodeOf(authorizeUrl: string): string {
  if (typeof authorizeUrl !== "string" || !URL.canParse(authorizeUrl)) throw new Error("Sandbox consent: expected the absolute URL getAuthorizeUrl returned");
  // `callback` and `service` may be present too; the server already knows them.
  const code = new URL(authorizeUrl).searchParams.get("code");
  if (code === null || code === "") throw new Error("Sandbox consent: the URL has no `code` parameter");
  return code;
}

/**
 * Simulate the user at the authorize URL. Approval picks the library
 * (`options.libraryId`, else the one linked by the access token given to
 * getAuthorizeUrl, else a new one), issues a single-use authorization code and
 * returns the success redirect: `success=true&code&state`, plus `postboxId`
 * and `publicKey` for generation A and `accountReference` for generation C
 * when a service was onboarded. Denial returns the error redirect with
 * `success=false&errorCode&state`. An unknown, used or expired URL throws.
 *
 * @example
 * ```ts
 * const callbackUrl = await performConsent(state, url, { approve: true });
 * new URL(callbackUrl).searchParams.get("code");
 * ```
 */
export async function performConsent(state: SandboxState, authorizeUrl: string, options: ConsentOptions = {}): Promise<string> {
  if (options.errorCode !== undefined && (typeof options.errorCode !== "string" || options.errorCode === "")) {
    throw new TypeError("Sandbox consent: errorCode must be a non-empty string");
  }
  if (options.libraryId !== undefined && (typeof options.libraryId !== "string" || options.libraryId === "")) {
    throw new TypeError("Sandbox consent: libraryId must be a non-empty string");
  }
  const pending = state.authorizations.takePending(preauthorizationCodeOf(authorizeUrl));
  if (options.approve === false) {
    return withParams(pending.errorRedirect, { success: "false", errorCode: options.errorCode ?? DEFAULT_DENIAL_CODE, state: pending.state });
  }
  const libraryId = state.libraries.create(options.libraryId ?? pending.linkedLibraryId);
  const { code } = state.authorizations.issueCode(pending, libraryId);
  const params: Record<string, string | undefined> = { success: "true", code, state: pending.state };
  if (pending.generation === "A") {
    const postbox = await state.libraries.postboxOf(libraryId);
    params.postboxId = postbox.id;
    params.publicKey = postbox.publicKey;
  }
  if (pending.generation === "C" && pending.serviceId !== undefined) params.accountReference = randomId("account");
  return withParams(pending.successRedirect, params);
}
