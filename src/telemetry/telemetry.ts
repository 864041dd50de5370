/**
 * The telemetry seam: the one place the pipeline reports the start and end of
 * each step (authorization, a write from `write()` to settlement, each
 * attempt, a refresh, a token store call) and counts what happened. The
 * default does nothing and allocates nothing; call sites check `enabled`
 * before building attributes. OpenTelemetry hangs off it
 * (`./opentelemetry.ts`), loaded only when the app asks for it.
 *
 * What goes through here is ids, counts, codes and durations: never a token,
 * code verifier, key or secret, and the app's user id only when the app opts
 * in (`includeUserId`).
 * @module
 */
import { DeliveryError, DigimeWriteError } from "../errors.js";
import { AttemptFailedError, type AttemptFailure } from "../writing/retry-policy.js";

/** Attribute values the seam carries. */
export type TelemetryAttributes = Record<string, string | number | boolean>;

/** One step in progress (a span, with OpenTelemetry). */
export interface TelemetryStep {
  /** Run `fn` with this step as the parent of the steps started inside it (across awaits). */
  run<T>(fn: () => T): T;
  /** Something that happened during the step. */
  event(name: string, attributes?: TelemetryAttributes): void;
  /** Add attributes. */
  set(attributes: TelemetryAttributes): void;
  /** End the step; with an error, as failed (its `code` only, never its message). */
  end(error?: unknown): void;
}

/** Counters, with their documented names. */
export type TelemetryCounter = "digime.writes" | "digime.write.attempts" | "digime.write.retries" | "digime.token.refreshes" | "digime.token.persist_failures";

/** Histograms (seconds). */
export type TelemetryHistogram = "digime.write.duration" | "digime.write.queue_wait";

/** The seam the pipeline calls. */
export interface Telemetry {
  /** False for the default: callers skip building attributes. */
  readonly enabled: boolean;
  /** Whether the app allowed its user ids on spans (never on metrics). */
  readonly includeUserId: boolean;
  /** Start a step: a child of `parent`, else of whatever is active now (the caller's span). */
  start(name: string, attributes: TelemetryAttributes, parent?: TelemetryStep): TelemetryStep;
  /** Add to a counter. */
  count(name: TelemetryCounter, attributes?: TelemetryAttributes, value?: number): void;
  /** Record a duration in seconds. */
  record(name: TelemetryHistogram, seconds: number, attributes?: TelemetryAttributes): void;
  /**
   * Report the queue's depth (accepted, not started) and in-flight writes
   * when metrics are collected, until the returned function is called (on close,
   * so the meter does not keep a closed client alive).
   */
  observeQueue(read: () => { depth: number; inFlight: number }): () => void;
}

const NOOP_STEP: TelemetryStep = Object.freeze({
  run: <T>(fn: () => T): T => fn(),
  event: () => undefined,
  set: () => undefined,
  end: () => undefined,
});

/** The default: telemetry off, at no cost. */
export const NO_TELEMETRY: Telemetry = Object.freeze({
  enabled: false,
  includeUserId: false,
  start: () => NOOP_STEP,
  count: () => undefined,
  record: () => undefined,
  observeQueue: () => () => undefined,
});

/**
 * The `error.type` of an error: our stable `code`, else `_OTHER` (a foreign
 * error's name or message could say anything).
 */
export function errorType(error: unknown): string {
  const inner = attemptCause(error);
  return inner instanceof DigimeWriteError ? inner.code : "_OTHER";
}

/** The HTTP status digi.me answered, when an error knows it. */
export function httpStatusOf(error: unknown): number | undefined {
  const inner = attemptCause(error);
  return inner instanceof DeliveryError ? inner.httpStatus : undefined;
}

/** The error inside a failed attempt's wrapper (the retry policy's `AttemptFailedError`), else `error` itself. */
function attemptCause(error: unknown): unknown {
  return error instanceof AttemptFailedError ? error.failure.error : error;
}

/**
 * Why an attempt is retried, as a low-cardinality label: `rate_limited`
 * (429), `server_error` (5xx), `timeout` (408), `token_store`, `network`
 * (no answer), `token_rotated`, `pending` (generation A) or `other`. The
 * writer says `token_rotated` and `pending` itself (see
 * {@link AttemptFailure.reason}); the rest follows from the error's type.
 */
export function retryReason(failure: AttemptFailure): string {
  if (failure.reason !== undefined) return failure.reason;
  const { error } = failure;
  if (!(error instanceof DigimeWriteError)) return "other";
  if (error.code === "TOKEN_STORE_FAILED") return "token_store";
  const status = error instanceof DeliveryError ? error.httpStatus : undefined;
  if (status === 429) return "rate_limited";
  if (status === 408) return "timeout";
  if (status !== undefined && status >= 500) return "server_error";
  if (status === undefined && error instanceof DeliveryError) return "network";
  return "other";
}
