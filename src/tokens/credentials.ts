/**
 * Small helpers over {@link Credentials} shared by the keeper's parts.
 * @module
 */
import type { UserAccessToken } from "../sdk/types.js";
import type { Credentials } from "../stores/token-store.js";

/** Just the credential fields of `basis` (it may be a stored record with version and key), with a new token. */
export function withToken(basis: Credentials, userAccessToken: UserAccessToken): Credentials {
  return basis.postboxId === undefined ? { userAccessToken } : { userAccessToken, postboxId: basis.postboxId, publicKey: basis.publicKey };
}

/** The secret values of `credentials`, for redaction. */
export function tokenSecrets(credentials: Credentials | undefined): string[] {
  if (credentials === undefined) return [];
  return [credentials.userAccessToken.accessToken.value, credentials.userAccessToken.refreshToken.value];
}
