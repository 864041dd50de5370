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

/** `authorization:completed`: a user's token was obtained and stored.
 *
 * @example
 * ```ts
 * client.on("authorization:completed", ({ userId, hasPostbox }) => log.info({ userId, hasPostbox }, "digi.me connected"));
 * ```
 */
export interface AuthorizationCompletedEvent {
  /** The user whose token is now stored. */
  userId: string;
  /** The `context` passed to `beginAuthorization`, returned untouched. */
  context: unknown;
  /** Whether the callback carried a postbox (generation A write contracts). */
  hasPostbox: boolean;
}

/** `authorization:failed`: a callback was refused or the exchange failed.
 *
 * @example
 * ```ts
 * client.on("authorization:failed", ({ userId, error }) => log.warn({ userId, code: error.code }, "digi.me connection failed"));
 * ```
 */
export interface AuthorizationFailedEvent {
  /** Known when the bundle could be opened. */
  userId: string | undefined;
  /** Why it failed; `error.code` says which check or step. */
  error: DigimeWriteError;
}

/** Fields shared by every `write:*` event.
 *
 * @example
 * ```ts
 * const label = (e: WriteEventBase) => `${e.userId}/${e.fileName} (${e.id})`;
 * ```
 */
export interface WriteEventBase {
  /** The write's id (given in `write` options, or generated). */
  id: string;
  /** The user the file is written for. */
  userId: string;
  /** The file's name, as given to `write`. */
  fileName: string;
}

/** `write:queued`: the write was accepted into the queue.
 *
 * @example
 * ```ts
 * client.on("write:queued", ({ queued }) => metrics.gauge("digime.queue.depth", queued));
 * ```
 */
export interface WriteQueuedEvent extends WriteEventBase {
  /** The write's priority (higher runs first; default 0). */
  priority: number;
  /** Writes waiting or running after this one was added. */
  queued: number;
}

/** `write:started`: an attempt is about to call the SDK.
 *
 * @example
 * ```ts
 * client.on("write:started", ({ id, attempt }) => log.debug({ id, attempt }, "uploading"));
 * ```
 */
export interface WriteStartedEvent extends WriteEventBase {
  /** 1 for the first attempt. */
  attempt: number;
}

/** `write:retrying`: an attempt failed with a transient fault; another follows after `delayMs`.
 *
 * @example
 * ```ts
 * client.on("write:retrying", ({ id, attempt, delayMs, error }) => log.warn({ id, attempt, delayMs, code: error.code }, "retrying"));
 * ```
 */
export interface WriteRetryingEvent extends WriteEventBase {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Milliseconds until the next attempt (honours `Retry-After`). */
  delayMs: number;
  /** What the failed attempt met. */
  error: DigimeWriteError;
}

/** `write:succeeded`: digi.me accepted the file.
 *
 * @example
 * ```ts
 * client.on("write:succeeded", ({ receipt }) => metrics.histogram("digime.write.ms", receipt.durationMs));
 * ```
 */
export interface WriteSucceededEvent extends WriteEventBase {
  /** The same receipt the `write` promise resolves with. */
  receipt: WriteReceipt;
}

/** `write:failed`: the write settled with an error.
 *
 * @example
 * ```ts
 * client.on("write:failed", ({ id, attempts, error }) => log.error({ id, attempts, code: error.code }, "write failed"));
 * ```
 */
export interface WriteFailedEvent extends WriteEventBase {
  /** SDK calls made. */
  attempts: number;
  /**
   * True when some attempt failed in a way that leaves open whether digi.me
   * stored the file (a connection reset mid-request), whatever the final error.
   */
  possiblyDelivered: boolean;
  /** The error the `write` promise rejects with. */
  error: DigimeWriteError;
}

/** `token:refreshed`: a new token for the user was seen (SDK refresh or proactive refresh).
 *
 * @example
 * ```ts
 * client.on("token:refreshed", ({ userId, source, persisted }) => log.info({ userId, source, persisted }, "token rotated"));
 * ```
 */
export interface TokenRefreshedEvent {
  /** The user whose token changed. */
  userId: string;
  /** The contract the token belongs to. */
  contractId: string;
  /** Where the new token came from. */
  source: "write" | "proactive";
  /** Whether it reached the token store (false: kept in memory, retried in the background). */
  persisted: boolean;
  /** Expiry of the new access token, epoch milliseconds. */
  accessTokenExpiresAt: number;
}

/** `token:persist-failed`: the store refused or failed to save the newest token.
 *
 * @example
 * ```ts
 * client.on("token:persist-failed", ({ userId, attempts, willRetry }) => alert(`token store failing for ${userId}`, { attempts, willRetry }));
 * ```
 */
export interface TokenPersistFailedEvent {
  /** The user whose newest token is not stored yet. */
  userId: string;
  /** The contract the token belongs to. */
  contractId: string;
  /** Consecutive failed tries so far. */
  attempts: number;
  /** Whether the library keeps retrying in the background (true until `close`). */
  willRetry: boolean;
  /** The store's failure (`TOKEN_STORE_FAILED`, …). */
  error: DigimeWriteError;
}

/** `reauthorization:required`: the user's refresh token is no longer usable.
 *
 * @example
 * ```ts
 * client.on("reauthorization:required", ({ userId }) => email(userId, "Please reconnect digi.me"));
 * ```
 */
export interface ReauthorizationRequiredEvent {
  /** The user who must consent again. */
  userId: string;
  /** The contract concerned. */
  contractId: string;
  /** The refresh token expired, or digi.me refused the token. */
  reason: "refresh-token-expired" | "refresh-rejected";
}

/** `sdk:limitation`: said once per client when the SDK cannot do something the library relies on.
 *
 * @example
 * ```ts
 * client.on("sdk:limitation", ({ message }) => log.warn(message));
 * ```
 */
export interface SdkLimitationEvent {
  /** The SDK generation in use. */
  generation: SdkGeneration;
  /**
   * `refresh-invisible`: the SDK refreshes tokens without returning them
   * (generation B). `refresh-lost-on-failed-push`: the SDK returns a token it
   * refreshed inside `write` only when the push after it succeeds
   * (generation A). Both are said only without the `digimeApi` option.
   */
  limitation: "refresh-invisible" | "refresh-lost-on-failed-push";
  /** What it means and what to do, in a sentence. */
  message: string;
}

/** `config:warning`: said once per client when its configuration cannot do what a deployment like it usually needs.
 *
 * @example
 * ```ts
 * client.on("config:warning", ({ warning, message }) => log.warn({ warning }, message));
 * ```
 */
export interface ConfigWarningEvent {
  /**
   * `authorization-not-shared`: the token store is shared by several
   * processes, but there is no `stateSecret` and the pending authorization
   * store is this process's memory, so an authorization begun here cannot
   * complete on another instance.
   */
  warning: "authorization-not-shared";
  /** What it means and what to do, in a sentence. */
  message: string;
}

/** `queue:idle`: nothing is queued or running any more.
 *
 * @example
 * ```ts
 * client.on("queue:idle", ({ settled }) => log.info({ settled }, "all writes settled"));
 * ```
 */
export interface QueueIdleEvent {
  /** Writes settled since the client was created. */
  settled: number;
}

/** Result of a delivered write.
 *
 * @example
 * ```ts
 * const receipt: WriteReceipt = await client.write("alice", file);
 * if (receipt.possibleDuplicate) log.warn({ id: receipt.id }, "digi.me may hold this file twice");
 * ```
 */
export interface WriteReceipt {
  /** The write's id. */
  readonly id: string;
  /** The user the file was written for. */
  readonly userId: string;
  /**
   * Always `delivered`: digi.me accepted the file. (A postbox answer of
   * `pending` after the SDK's own refresh means the file was not taken; the
   * write is retried, never reported as done.)
   */
  readonly status: "delivered";
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
 *
 * @example
 * ```ts
 * const onFailed = (e: WriteClientEvents["write:failed"][0]) => log.error({ id: e.id, code: e.error.code });
 * client.on("write:failed", onFailed);
 * ```
 */
export interface WriteClientEvents {
  /** A user's token was obtained and stored. */
  "authorization:completed": [AuthorizationCompletedEvent];
  /** A callback was refused or the code exchange failed. */
  "authorization:failed": [AuthorizationFailedEvent];
  /** A write was accepted into the queue. */
  "write:queued": [WriteQueuedEvent];
  /** An attempt is about to call the SDK. */
  "write:started": [WriteStartedEvent];
  /** An attempt met a transient fault; another follows. */
  "write:retrying": [WriteRetryingEvent];
  /** digi.me accepted a file. */
  "write:succeeded": [WriteSucceededEvent];
  /** A write settled with an error. */
  "write:failed": [WriteFailedEvent];
  /** A new token for a user was seen. */
  "token:refreshed": [TokenRefreshedEvent];
  /** The token store failed to save the newest token. */
  "token:persist-failed": [TokenPersistFailedEvent];
  /** A user must consent again. */
  "reauthorization:required": [ReauthorizationRequiredEvent];
  /** The SDK cannot do something the library relies on (said once). */
  "sdk:limitation": [SdkLimitationEvent];
  /** The configuration cannot do what a deployment like it usually needs (said once). */
  "config:warning": [ConfigWarningEvent];
  /** Nothing is queued or running. */
  "queue:idle": [QueueIdleEvent];
}

/**
 * Name of any event in {@link WriteClientEvents}.
 *
 * @example
 * ```ts
 * const watched: WriteClientEventName[] = ["write:failed", "reauthorization:required"];
 * for (const name of watched) client.on(name, (event) => log.warn({ name, event }));
 * ```
 */
export type WriteClientEventName = keyof WriteClientEvents;

/**
 * The emit function the internal modules receive: typed, and unable to throw into the pipeline.
 *
 * @example
 * ```ts
 * const emit: EmitEvent = (name, ...args) => client.emit(name, ...args);
 * emit("queue:idle", { settled: 3 });
 * ```
 */
export type EmitEvent = <K extends WriteClientEventName>(name: K, ...args: WriteClientEvents[K]) => void;
