/**
 * When and how long to wait before trying a write again: the library's one
 * backoff (`internal/backoff`, on p-retry) with jitter, stretched to honour
 * `Retry-After`.
 */
import { withBackoff } from "../internal/backoff.js";

/**
 * Retry settings of a {@link WriteClient}.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, retry: { retries: 8, minDelayMs: 500, maxDelayMs: 60_000 } });
 * ```
 */
export interface RetryOptions {
  /**
   * Retries after the first attempt (six attempts in all by default).
   * @defaultValue 5
   */
  retries?: number;
  /**
   * Delay before the first retry, in ms.
   * @defaultValue 200
   */
  minDelayMs?: number;
  /**
   * Longest delay between attempts, in ms.
   * @defaultValue 30_000
   */
  maxDelayMs?: number;
  /**
   * Growth of the delay per retry.
   * @defaultValue 2
   */
  factor?: number;
  /**
   * Spread each delay randomly over [delay, 2 × delay] so clients do not retry in step.
   * @defaultValue true
   */
  jitter?: boolean;
  /**
   * Longest `Retry-After` honoured, in ms; a longer one is capped.
   * @defaultValue 60_000
   */
  maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/**
 * The defaults of {@link RetryOptions}. Frozen: a client's settings come
 * from its options, never from changing this object.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, retry: { retries: RETRY_DEFAULTS.retries * 2 } });
 * ```
 */
export const RETRY_DEFAULTS: Readonly<ResolvedRetryOptions> = Object.freeze({
  retries: 5,
  minDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: true,
  maxRetryAfterMs: 60_000,
});

/** What an attempt reports when it fails, so the policy can decide. */
export interface AttemptFailure {
  /** The error to surface if no retry follows. */
  readonly error: Error;
  /** Whether this failure may be retried at all. */
  readonly retryable: boolean;
  /** Server-requested wait, in ms. */
  readonly retryAfterMs?: number | undefined;
  /**
   * Why a retry follows, where the error's type alone cannot say (a token
   * rotated by another write, a postbox still `pending`); a telemetry label.
   */
  readonly reason?: "token_rotated" | "pending" | undefined;
}

/** Hooks the caller gets between attempts. */
export interface RetryHooks {
  /** A retry follows after `delayMs`. */
  onRetry(failure: AttemptFailure, attempt: number, delayMs: number): void;
}

/** Thrown inside an attempt to carry its {@link AttemptFailure} through the backoff. */
export class AttemptFailedError extends Error {
  readonly failure: AttemptFailure;

  constructor(failure: AttemptFailure) {
    super(failure.error.message);
    this.name = "AttemptFailedError";
    this.failure = failure;
  }
}

/**
 * Try a write again after its first attempt failed with `firstError`, until
 * an attempt succeeds, a failure is terminal, or the retries run out; rejects
 * with the last failure's `error`. `attempt` is called with 2, 3, …
 *
 * The first attempt is the caller's own, outside the backoff, because nearly
 * every write succeeds at once and the backoff's setup costs more than the
 * rest of the attempt; the backoff starts from its failure exactly as if it
 * had made the attempt itself.
 */
export async function retryAfterFailure<T>(
  firstError: unknown,
  attempt: (attemptNumber: number) => Promise<T>,
  options: ResolvedRetryOptions,
  hooks: RetryHooks,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await withBackoff(attempt, {
      retries: options.retries,
      minDelayMs: options.minDelayMs,
      maxDelayMs: options.maxDelayMs,
      factor: options.factor,
      jitter: options.jitter,
      signal,
      firstFailure: { error: firstError },
      shouldRetry: (error) => error instanceof AttemptFailedError && error.failure.retryable,
      waitAtLeastMs: (error) => Math.min((error as AttemptFailedError).failure.retryAfterMs ?? 0, options.maxRetryAfterMs),
      onFailure: (error, attemptNumber, willRetry, delayMs) => {
        if (willRetry) hooks.onRetry((error as AttemptFailedError).failure, attemptNumber, delayMs);
      },
    });
  } catch (error) {
    if (error instanceof AttemptFailedError) throw error.failure.error;
    throw error;
  }
}
