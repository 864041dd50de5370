/**
 * When and how long to wait before trying a write again: exponential backoff
 * with jitter (p-retry), stretched to honour `Retry-After`.
 */
import pRetry, { AbortError, type RetryContext } from "p-retry";
import { sleep } from "../internal/sleep.js";

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

/** Thrown inside an attempt to carry its {@link AttemptFailure} through p-retry. */
export class AttemptFailedError extends Error {
  readonly failure: AttemptFailure;

  constructor(failure: AttemptFailure) {
    super(failure.error.message);
    this.name = "AttemptFailedError";
    this.failure = failure;
  }
}

/**
 * Run `attempt` until it succeeds, fails terminally, or runs out of retries.
 * Rejects with the last failure's `error`.
 *
 * The first attempt runs before p-retry is involved, because nearly every
 * write succeeds at once and p-retry's setup costs more than the rest of the
 * attempt loop; a first failure is handed to p-retry as its first attempt, so
 * backoff, hooks and cancellation behave exactly as if p-retry had run it.
 */
export async function runWithRetries<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  options: ResolvedRetryOptions,
  hooks: RetryHooks,
  signal?: AbortSignal,
): Promise<T> {
  const run = async (attemptNumber: number): Promise<T> => {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      throw forPRetry(error);
    }
  };
  try {
    signal?.throwIfAborted();
    let firstError: unknown;
    let failed = false;
    let result: T | undefined;
    try {
      result = await attempt(1);
    } catch (error) {
      failed = true;
      firstError = forPRetry(error);
    }
    if (!failed) {
      // As p-retry does: a signal that fired during a successful attempt still wins.
      signal?.throwIfAborted();
      return result as T;
    }
    return await pRetry(
      (attemptNumber) => (attemptNumber === 1 ? Promise.reject(firstError) : run(attemptNumber)),
      {
        retries: options.retries,
        minTimeout: options.minDelayMs,
        maxTimeout: options.maxDelayMs,
        factor: options.factor,
        randomize: options.jitter,
        ...(signal === undefined ? {} : { signal }),
        onFailedAttempt: async (context: RetryContext) => {
          if (!(context.error instanceof AttemptFailedError) || context.retriesLeft === 0) return;
          const failure = context.error.failure;
          const wanted = Math.min(failure.retryAfterMs ?? 0, options.maxRetryAfterMs);
          const delayMs = Math.max(context.retryDelay, wanted);
          hooks.onRetry(failure, context.attemptNumber, delayMs);
          // p-retry waits `retryDelay` after this hook; add what Retry-After asks beyond it.
          if (wanted > context.retryDelay) await sleep(wanted - context.retryDelay, signal);
        },
        shouldRetry: (context: RetryContext) => context.error instanceof AttemptFailedError && context.error.failure.retryable,
      },
    );
  } catch (error) {
    if (error instanceof AttemptFailedError) throw error.failure.error;
    throw error;
  }
}

/** A failure that must not be retried stops p-retry at once (its `AbortError`). */
function forPRetry(error: unknown): unknown {
  return error instanceof AttemptFailedError && !error.failure.retryable ? new AbortError(error) : error;
}
