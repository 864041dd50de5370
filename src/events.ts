/**
 * The typed events a {@link WriteClient} emits. Payloads carry ids, counts and
 * error objects, never a token value, code verifier or secret.
 *
 * @example
 * ```ts
 * client.on("write:retrying", (e) => log.warn({ id: e.id, attempt: e.attempt, delayMs: e.delayMs }));
 * client.on("token:refreshed", ({ userId }) => metrics.increment("digime.token.rotated", { userId }));
 * ```
 * @module
 */
import type { DigimeWriteError } from "./errors.js";
import type { SdkGeneration } from "./sdk/types.js";

/** `authorization:completed`: a user's token was obtained and stored. */
export interface AuthorizationCompletedEvent {
  userId: string;
  /** The `context` passed to `beginAuthorization`, returned untouched. */
  context: unknown;
  /** Whether the callback carried a postbox (generation A write contracts). */
  hasPostbox: boolean;
}

/** `authorization:failed`: a callback was refused or the exchange failed. */
export interface AuthorizationFailedEvent {
  /** Known when the bundle could be opened. */
  userId: string | undefined;
  error: DigimeWriteError;
}

/** Fields shared by every `write:*` event. */
export interface WriteEventBase {
  /** The write's id (given in `write` options, or generated). */
  id: string;
  userId: string;
  fileName: string;
}

/** `write:queued`: the write was accepted into the queue. */
export interface WriteQueuedEvent extends WriteEventBase {
  priority: number;
  /** Writes waiting or running after this one was added. */
  queued: number;
}

/** `write:started`: an attempt is about to call the SDK. */
export interface WriteStartedEvent extends WriteEventBase {
  /** 1 for the first attempt. */
  attempt: number;
}

/** `write:retrying`: an attempt failed with a transient fault; another follows after `delayMs`. */
export interface WriteRetryingEvent extends WriteEventBase {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Milliseconds until the next attempt (honours `Retry-After`). */
  delayMs: number;
  error: DigimeWriteError;
}

/** `write:succeeded`: digi.me accepted the file. */
export interface WriteSucceededEvent extends WriteEventBase {
  receipt: WriteReceipt;
}

/** `write:failed`: the write settled with an error. */
export interface WriteFailedEvent extends WriteEventBase {
  attempts: number;
  /**
   * True when some attempt failed in a way that leaves open whether digi.me
   * stored the file (a connection reset mid-request), whatever the final error.
   */
  possiblyDelivered: boolean;
  error: DigimeWriteError;
}

/** `token:refreshed`: a new token for the user was seen (SDK refresh or proactive refresh). */
export interface TokenRefreshedEvent {
  userId: string;
  contractId: string;
  /** Where the new token came from. */
  source: "write" | "proactive";
  /** Whether it reached the token store (false: kept in memory, retried in the background). */
  persisted: boolean;
  /** Expiry of the new access token, epoch milliseconds. */
  accessTokenExpiresAt: number;
}

/** `token:persist-failed`: the store refused or failed to save the newest token. */
export interface TokenPersistFailedEvent {
  userId: string;
  contractId: string;
  /** Consecutive failed tries so far. */
  attempts: number;
  /** Whether the library keeps retrying in the background (true until `close`). */
  willRetry: boolean;
  error: DigimeWriteError;
}

/** `reauthorization:required`: the user's refresh token is no longer usable. */
export interface ReauthorizationRequiredEvent {
  userId: string;
  contractId: string;
  reason: "refresh-token-expired" | "refresh-rejected";
}

/** `sdk:limitation`: said once per client when the SDK cannot do something the library relies on. */
export interface SdkLimitationEvent {
  generation: SdkGeneration;
  limitation: "refresh-invisible";
  message: string;
}

/** `queue:idle`: nothing is queued or running any more. */
export interface QueueIdleEvent {
  /** Writes settled since the client was created. */
  settled: number;
}

/** Result of a delivered write. */
export interface WriteReceipt {
  /** The write's id. */
  readonly id: string;
  readonly userId: string;
  /** `delivered`: digi.me accepted the file; `pending` (generation A only): accepted for later processing. */
  readonly status: "delivered" | "pending";
  /** SDK calls made, including the successful one. */
  readonly attempts: number;
  /** From `write()` to settlement, including time queued. */
  readonly durationMs: number;
  /** Whether a new token was obtained during this write. */
  readonly tokenRefreshed: boolean;
  /**
   * True when an earlier attempt failed after the request may have reached
   * digi.me (a connection reset mid-request), so the file may be stored twice.
   */
  readonly possibleDuplicate: boolean;
}

/**
 * Every event the client emits and its payload. Use it to type your own
 * listeners: `(e: WriteClientEvents["write:failed"][0]) => …`.
 */
export interface WriteClientEvents {
  "authorization:completed": [AuthorizationCompletedEvent];
  "authorization:failed": [AuthorizationFailedEvent];
  "write:queued": [WriteQueuedEvent];
  "write:started": [WriteStartedEvent];
  "write:retrying": [WriteRetryingEvent];
  "write:succeeded": [WriteSucceededEvent];
  "write:failed": [WriteFailedEvent];
  "token:refreshed": [TokenRefreshedEvent];
  "token:persist-failed": [TokenPersistFailedEvent];
  "reauthorization:required": [ReauthorizationRequiredEvent];
  "sdk:limitation": [SdkLimitationEvent];
  "queue:idle": [QueueIdleEvent];
}

/** Name of any event in {@link WriteClientEvents}. */
export type WriteClientEventName = keyof WriteClientEvents;

/** The emit function the internal modules receive: typed, and unable to throw into the pipeline. */
export type EmitEvent = <K extends WriteClientEventName>(name: K, ...args: WriteClientEvents[K]) => void;
