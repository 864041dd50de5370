/**
 * How the server-backed stores turn a driver error into a
 * {@link TokenStoreError}. Driver errors carry what they sent: an ioredis
 * `ReplyError` keeps the command and its arguments (a token, a code
 * verifier), a pg error keeps `detail` ("Failing row contains (…)"), `where`
 * and the query. Only the name, the code and a redacted message survive.
 */
import { TokenStoreError } from "../errors.js";
import { CallDeadlines } from "../internal/call-deadlines.js";
import { sanitizeError } from "../internal/redact.js";
import { z } from "zod";
import type { Credentials } from "./token-store.js";

/** A {@link TokenStoreError} for `operation` whose cause holds nothing but name, code and a redacted message. */
export function storeFailure(operation: string, error: unknown, secrets: Iterable<string> = []): TokenStoreError {
  const cause = sanitizeError(error, secrets);
  return new TokenStoreError(`${operation} failed: ${cause.message}`, { cause });
}

/** The values of `credentials` a message must never show, for {@link storeFailure}. */
export function credentialSecrets(credentials: Credentials): string[] {
  const { accessToken, refreshToken } = credentials.userAccessToken;
  return [accessToken.value, refreshToken.value];
}

/** Runs `action`, replacing any error it throws with a sanitized {@link TokenStoreError}. */
export async function guarded<T>(operation: string, action: () => Promise<T>, secrets: Iterable<string> = []): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw storeFailure(operation, error, secrets);
  }
}

/**
 * How long a server-backed store call may take by default before it
 * fails with `TOKEN_STORE_FAILED`. Whatever the driver does meanwhile
 * (ioredis queues commands while it reconnects, a pg Pool waits for a
 * connection), the caller hears within this bound, and a cached token is
 * used or the write is retried (issue 16: "reported within 3 s").
 */
export const DEFAULT_CALL_TIMEOUT_MS = 3_000;

const callTimeoutMessage = "must be a whole number of ms from 1 to 600000";
/** Schema of the stores' `callTimeoutMs` option. */
export const callTimeoutSchema = z.number({ error: callTimeoutMessage }).int({ error: callTimeoutMessage }).min(1, { error: callTimeoutMessage }).max(600_000, { error: callTimeoutMessage });

/**
 * Every call a server-backed store makes: bounded by one deadline
 * (one shared timer), any failure a sanitized, retryable
 * {@link TokenStoreError}. A call given up on may still land later; the
 * stores' writes are compare-and-set, so a late one is stale or harmless.
 */
export class StoreCalls {
  readonly #timeoutMs: number;
  readonly #deadlines: CallDeadlines;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#deadlines = new CallDeadlines(timeoutMs, () => new Error(`no answer from the server within ${timeoutMs} ms`));
  }

  /** The bound this store applies to each call, in ms. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  run<T>(operation: string, action: () => Promise<T>, secrets: Iterable<string> = []): Promise<T> {
    return guarded(operation, () => this.#deadlines.run(operation, action), secrets);
  }
}
