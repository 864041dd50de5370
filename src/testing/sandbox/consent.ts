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

/** What the consent screen reads from its URL. */
interface AuthorizeUrlParams {
  code: string;
  /** SDK 5.x–8.x put the error target only here (`callback`); the authorize request never carried it. */
  callback: string | undefined;
  /** `service`: SDKs put the service to onboard only into the URL. */
  serviceId: number | undefined;
}

function paramsOf(authorizeUrl: string): AuthorizeUrlParams {
  if (typeof authorizeUrl !== "string" || !URL.canParse(authorizeUrl)) throw new Error("Sandbox consent: expected the absolute URL getAuthorizeUrl returned");
  // Any host: the fakes, the msw handlers and the loopback server each have their own onboard URL.
  const query = new URL(authorizeUrl).searchParams;
  const code = query.get("code");
  if (code === null || code === "") throw new Error("Sandbox consent: the URL has no `code` parameter");
  const callback = query.get("callback") ?? undefined;
  if (callback !== undefined && !URL.canParse(callback)) throw new Error("Sandbox consent: the URL's `callback` parameter is not an absolute URL");
  const service = Number(query.get("service") ?? Number.NaN);
  // `sourceType` and the other display options change nothing here.
  return { code, callback, serviceId: Number.isInteger(service) && service > 0 ? service : undefined };
}

/**
 * Simulate the user at the authorize URL. Approval picks the library
 * (`options.libraryId`, else the one linked by the access token given to
 * getAuthorizeUrl, else a new one), issues a single-use authorization code and
 * returns the success redirect: `success=true&code&state`, plus `postboxId`
 * and `publicKey` for generation A and `accountReference` for generation C
 * when a service was onboarded. Denial returns the error redirect (the URL's
 * `callback` when it has one, as SDK 8.x builds it) with exactly what
 * digi.me documents for a failure, `success=false&errorCode` (SDK repository,
 * documents/create-user/authorizing.md and reauthorizing.md, "On failure"),
 * plus `state` only with `stateOnDenial`. An unknown, used or expired URL throws.
 * Works for URLs of any host, whether the fakes or the real SDK built them.
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
  if (options.stateOnDenial !== undefined && typeof options.stateOnDenial !== "boolean") throw new TypeError("Sandbox consent: stateOnDenial must be a boolean");
  const params = paramsOf(authorizeUrl);
  const pending = state.authorizations.takePending(params.code);
  if (options.approve === false) {
    const errorRedirect = params.callback ?? pending.errorRedirect;
    // No `state` by default: digi.me's failure redirect has none (documents/create-user/authorizing.md, "On failure").
    const denialState = options.stateOnDenial === true ? pending.state : undefined;
    return withParams(errorRedirect, { success: "false", errorCode: options.errorCode ?? DEFAULT_DENIAL_CODE, state: denialState });
  }
  const libraryId = state.libraries.create(options.libraryId ?? pending.linkedLibraryId);
  const { code } = state.authorizations.issueCode(pending, libraryId);
  const answer: Record<string, string | undefined> = { success: "true", code, state: pending.state };
  if (pending.generation === "A") {
    const postbox = await state.libraries.postboxOf(libraryId);
    answer.postboxId = postbox.id;
    answer.publicKey = postbox.publicKey;
  }
  const serviceId = pending.serviceId ?? params.serviceId;
  if (pending.generation === "C" && serviceId !== undefined) answer.accountReference = randomId("account");
  return withParams(pending.successRedirect, answer);
}
