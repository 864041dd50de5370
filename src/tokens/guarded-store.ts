/**
 * The token store as the keeper calls it: every call bounded in time, every
 * failure a {@link TokenStoreError} with nothing secret attached.
 * @module
 */
import { DigimeWriteError, TokenStoreError } from "../errors.js";
import { CallDeadlines } from "../internal/call-deadlines.js";
import { sanitizeError, scrubError } from "../internal/redact.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import type { CredentialsKey, RefreshLeases, StoredCredentials, TokenStore } from "../stores/token-store.js";
import { cellsOf, type CellOf } from "../stores/record-cells.js";

/** The app's {@link TokenStore} as the keeper calls it: each call under one shared deadline, each failure sanitized. */
export class GuardedStore {
  readonly store: TokenStore;
  /** The store's refresh leases, when it offers both methods. */
  readonly leases: RefreshLeases | undefined;
  /**
   * The store's cells, when its records are in this process's memory (see
   * `record-cells.ts`): read at once, nothing to bound in time. Not offered
   * with telemetry on, where every store call is a span.
   */
  readonly cellOf: CellOf | undefined;
  readonly #timeoutMs: number;
  readonly #telemetry: Telemetry;
  #deadlines: CallDeadlines | undefined;

  constructor(store: TokenStore, timeoutMs: number, telemetry: Telemetry = NO_TELEMETRY) {
    this.store = store;
    this.#timeoutMs = timeoutMs;
    this.#telemetry = telemetry;
    this.leases =
      typeof store.acquireRefreshLease === "function" && typeof store.releaseRefreshLease === "function"
        ? (store as TokenStore & RefreshLeases)
        : undefined;
    this.cellOf = telemetry.enabled ? undefined : cellsOf(store);
  }

  /** The store's record for `key`, as {@link call} would read it: the read every write makes, without its closures. */
  get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    const read = this.getUnbounded(key);
    // With telemetry on, the read went through call(), deadline included.
    return this.#telemetry.enabled ? read : this.bound("get", read);
  }

  /**
   * The store's record for `key` with no deadline of its own, for a caller
   * that bounds its wait itself and gives the read {@link bound} if it must
   * wait longer (the keeper's read shared by a user's writes). With
   * telemetry on, as {@link call} reads it, span and deadline included.
   */
  getUnbounded(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    if (this.#telemetry.enabled) return this.call("get", (store) => store.get(key));
    try {
      return this.store.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** What `answer`, a call of `operation` already made, settles with, or a timeout error once `storeTimeoutMs` have passed since now. */
  bound<T>(operation: string, answer: Promise<T>): Promise<T> {
    this.#deadlines ??= this.#newDeadlines();
    return this.#deadlines.race(operation, answer);
  }

  /**
   * Call the store, giving up after `storeTimeoutMs`: a store that never
   * answers must not hold writes (or `close`) up forever. A call given up on
   * may still land later; compare-and-set makes that harmless, since its
   * version is stale by then or it carries the token we wanted stored anyway.
   */
  call<T>(operation: string, call: (store: TokenStore) => Promise<T>): Promise<T> {
    // One shared timer for every pending call, not one armed and cleared per call: this runs on every write.
    this.#deadlines ??= this.#newDeadlines();
    const store = this.store;
    if (!this.#telemetry.enabled) return this.#deadlines.run(operation, () => call(store));
    // A span per store call, a child of whatever step is running (an attempt, a refresh, an authorization).
    const deadlines = this.#deadlines;
    const step = this.#telemetry.start(`digime.token_store.${operation}`, { "digime.token_store.operation": operation });
    return step.run(() => deadlines.run(operation, () => call(store))).then(
      (value) => {
        step.end();
        return value;
      },
      (error: unknown) => {
        step.end(error instanceof DigimeWriteError ? error : new TokenStoreError("failed"));
        throw error;
      },
    );
  }

  #newDeadlines(): CallDeadlines {
    return new CallDeadlines(this.#timeoutMs, (label) => new TokenStoreError(`Token store ${label} did not answer within ${this.#timeoutMs} ms`));
  }

  /** Wrap a store failure so that no foreign object, and no token in `secrets`, rides along. */
  error(operation: string, error: unknown, secrets: readonly string[]): DigimeWriteError {
    // A store may throw one of our classes itself, with a database error (rows and all) as its cause.
    if (error instanceof DigimeWriteError) return scrubError(error, [...secrets]);
    const cause = sanitizeError(error, [...secrets]);
    return new TokenStoreError(`Token store ${operation} failed: ${cause.message}`, { cause });
  }

  /** Let the shared deadline timer go once nothing is pending, so a closed client does not hold the process. */
  stopWhenIdle(): void {
    this.#deadlines?.stopWhenIdle();
  }
}
