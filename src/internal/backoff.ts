/**
 * The one way this library tries a thing again: exponential backoff on
 * p-retry. Delivery (through the writer's retry policy, which adds
 * `Retry-After` and write events), token persistence, refresh and lease
 * waits, the file store's lock, the code exchange and key set fetches use it.
 */
import pRetry, { type RetryContext } from "p-retry";
import { sleep } from "./sleep.js";

/** How to try again. */
export interface BackoffOptions {
  /** Tries after the first; `Infinity` until `untilMs` or `signal` stops it. */
  readonly retries: number;
  /** Wait before the first retry, in ms. */
  readonly minDelayMs: number;
  /** Longest wait between tries, in ms. Default: unbounded. */
  readonly maxDelayMs?: number | undefined;
  /** Growth of the wait per retry. Default 2. */
  readonly factor?: number | undefined;
  /** Spread each wait over [wait, 2 × wait], so processes do not retry in step. Default false. */
  readonly jitter?: boolean | undefined;
  /** Stop retrying this many ms after the first try (the last failure is thrown). */
  readonly untilMs?: number | undefined;
  /** Stops the waits; the signal's reason is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Whether a failure may be tried again. Default: every failure. */
  readonly shouldRetry?: ((error: unknown) => boolean) | undefined;
  /** A wait a failure asks for (a server's `Retry-After`), honoured when longer than the backoff. */
  readonly waitAtLeastMs?: ((error: unknown) => number | undefined) | undefined;
  /** Told of each failure before any wait; `willRetry` says whether another try follows, after `delayMs`. */
  readonly onFailure?: ((error: unknown, attempt: number, willRetry: boolean, delayMs: number) => void) | undefined;
  /**
   * The caller already made the first try, and it failed with this (a hot
   * path that skips p-retry's setup when the first try succeeds, as nearly
   * every write does): the backoff starts from that failure, exactly as if it
   * had made the try itself, and `attempt` is first called with 2.
   */
  readonly firstFailure?: { readonly error: unknown } | undefined;
}

/** Carries whatever an attempt threw through p-retry, which treats some errors (TypeError, non-Errors) specially. */
class Failed extends Error {
  readonly failure: unknown;

  constructor(failure: unknown) {
    super("attempt failed");
    this.failure = failure;
  }
}

/**
 * Run `attempt` (numbered from 1) until it resolves, a failure may not be
 * retried, the retries or `untilMs` run out, or `signal` aborts; rejects with
 * the last failure as `attempt` threw it.
 *
 * @example
 * ```ts
 * const token = await withBackoff(() => port.exchangeCode(input), { retries: 2, minDelayMs: 200, shouldRetry: isTransient });
 * ```
 */
export async function withBackoff<T>(attempt: (attemptNumber: number) => Promise<T>, options: BackoffOptions): Promise<T> {
  const { shouldRetry, waitAtLeastMs, onFailure, signal, firstFailure } = options;
  try {
    return await pRetry(
      async (attemptNumber) => {
        if (attemptNumber === 1 && firstFailure !== undefined) throw new Failed(firstFailure.error);
        try {
          return await attempt(attemptNumber);
        } catch (error) {
          throw new Failed(error);
        }
      },
      {
        retries: options.retries,
        minTimeout: options.minDelayMs,
        maxTimeout: options.maxDelayMs ?? Number.POSITIVE_INFINITY,
        factor: options.factor ?? 2,
        randomize: options.jitter ?? false,
        ...(options.untilMs === undefined ? {} : { maxRetryTime: options.untilMs }),
        ...(signal === undefined ? {} : { signal }),
        shouldRetry: (context: RetryContext) => shouldRetry?.((context.error as Failed).failure) ?? true,
        onFailedAttempt: async (context: RetryContext) => {
          const failure = (context.error as Failed).failure;
          const willRetry = context.retriesLeft > 0 && (shouldRetry?.(failure) ?? true);
          // p-retry waits `retryDelay` after this hook; add what the failure asks beyond it.
          const wanted = willRetry ? (waitAtLeastMs?.(failure) ?? 0) : 0;
          onFailure?.(failure, context.attemptNumber, willRetry, willRetry ? Math.max(context.retryDelay, wanted) : 0);
          if (wanted > context.retryDelay) await sleep(wanted - context.retryDelay, signal);
        },
      },
    );
  } catch (error) {
    throw error instanceof Failed ? error.failure : error;
  }
}

/** Thrown by a poll whose condition does not hold yet. */
class NotYet extends Error {}

/**
 * Ask `check` until it answers something other than `undefined`, waiting
 * longer between asks (backoff), for at most `untilMs`; resolves with the
 * answer, or `undefined` when the time ran out. A `check` that throws ends
 * the poll with its error.
 *
 * @example
 * ```ts
 * const newer = await pollUntil(() => readNewerToken(userId), { minDelayMs: 10, maxDelayMs: 200, untilMs: 3_000 });
 * ```
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: Omit<BackoffOptions, "retries" | "shouldRetry"> & { readonly untilMs: number }): Promise<T | undefined> {
  try {
    return await withBackoff(
      async () => {
        const answer = await check();
        if (answer === undefined) throw new NotYet();
        return answer;
      },
      { ...options, retries: Number.POSITIVE_INFINITY, shouldRetry: (error) => error instanceof NotYet },
    );
  } catch (error) {
    if (error instanceof NotYet) return undefined;
    throw error;
  }
}
