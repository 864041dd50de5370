import type { UserAccessToken } from "../sdk/types.js";

/** Whether two tokens are the same pair (compared by access token value). */
export function sameToken(a: UserAccessToken, b: UserAccessToken): boolean {
  return a.accessToken.value === b.accessToken.value && a.refreshToken.value === b.refreshToken.value;
}

/**
 * Whether `candidate` should replace `stored` when both came from elsewhere:
 * the later access-token expiry wins, then the later refresh-token expiry.
 * Ties go to the candidate, which was seen last.
 */
export function isAtLeastAsNew(candidate: UserAccessToken, stored: UserAccessToken): boolean {
  if (candidate.accessToken.expiry !== stored.accessToken.expiry) return candidate.accessToken.expiry > stored.accessToken.expiry;
  return candidate.refreshToken.expiry >= stored.refreshToken.expiry;
}

/** Epoch milliseconds of a token expiry given in epoch seconds. */
export function expiryMs(expirySeconds: number): number {
  return expirySeconds * 1000;
}
