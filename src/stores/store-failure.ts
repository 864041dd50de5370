/**
 * How the server-backed stores turn a driver error into a
 * {@link TokenStoreError}. Driver errors carry what they sent: an ioredis
 * `ReplyError` keeps the command and its arguments (a token, a code
 * verifier), a pg error keeps `detail` ("Failing row contains (…)"), `where`
 * and the query. Only the name, the code and a redacted message survive.
 */
import { TokenStoreError } from "../errors.js";
import { sanitizeError } from "../internal/redact.js";
import type { Credentials } from "../tokens/token-store.js";

/** @internal A {@link TokenStoreError} for `operation` whose cause holds nothing but name, code and a redacted message. */
export function storeFailure(operation: string, error: unknown, secrets: Iterable<string> = []): TokenStoreError {
  const cause = sanitizeError(error, secrets);
  return new TokenStoreError(`${operation} failed: ${cause.message}`, { cause });
}

/** @internal The values of `credentials` a message must never show, for {@link storeFailure}. */
export function credentialSecrets(credentials: Credentials): string[] {
  const { accessToken, refreshToken } = credentials.userAccessToken;
  return [accessToken.value, refreshToken.value];
}

/** @internal Runs `action`, replacing any error it throws with a sanitized {@link TokenStoreError}. */
export async function guarded<T>(operation: string, action: () => Promise<T>, secrets: Iterable<string> = []): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw storeFailure(operation, error, secrets);
  }
}
