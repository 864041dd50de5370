/**
 * Every error this library throws is a {@link DigimeWriteError}: a stable
 * `code` to switch on, a `retryable` flag that says whether trying the same
 * thing again later can succeed, and a `cause` that never carries a secret.
 *
 * @example
 * ```ts
 * try {
 *   await client.write("alice", file);
 * } catch (error) {
 *   if (error instanceof DigimeWriteError && error.code === "REAUTHORIZATION_REQUIRED") {
 *     redirectToConsent("alice");
 *   }
 * }
 * ```
 * @module
 */

/**
 * All stable error codes, one per failure a caller may want to handle.
 *
 * @example
 * ```ts
 * const permanent: ErrorCode[] = ["REAUTHORIZATION_REQUIRED", "DELIVERY_REJECTED"];
 * if (error instanceof DigimeWriteError && permanent.includes(error.code)) moveToDeadLetter(job);
 * ```
 */
export type ErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_ARGUMENT"
  | "INVALID_CALLBACK"
  | "AUTHORIZATION_DENIED"
  | "STATE_MISMATCH"
  | "STATE_EXPIRED"
  | "STATE_REPLAYED"
  | "STATE_UNKNOWN"
  | "STATE_TAMPERED"
  | "AUTHORIZATION_USER_MISMATCH"
  | "AUTHORIZATION_START_FAILED"
  | "TOKEN_EXCHANGE_FAILED"
  | "USER_NOT_AUTHORIZED"
  | "REAUTHORIZATION_REQUIRED"
  | "DELIVERY_REJECTED"
  | "DELIVERY_RETRIES_EXHAUSTED"
  | "DELIVERY_ATTEMPT_FAILED"
  | "STREAM_NOT_RETRYABLE"
  | "QUEUE_FULL"
  | "WRITE_ABORTED"
  | "CLIENT_CLOSED"
  | "TOKEN_STORE_FAILED"
  | "TOKEN_STORE_CORRUPT"
  | "TOKEN_STORE_UNSAFE"
  | "SDK_RESPONSE_INVALID"
  | "TOKEN_RESPONSE_INVALID"
  | "TOKEN_KEY_SET_UNTRUSTED"
  | "PAYLOAD_STORE_REQUIRED"
  | "QUEUE_UNAVAILABLE"
  | "WRITE_NOT_FOUND"
  | "QUEUE_MISCONFIGURED";

/**
 * Options shared by every error constructor.
 *
 * @example
 * ```ts
 * throw new TokenStoreError("Redis is unreachable", { cause: error } satisfies DigimeWriteErrorOptions);
 * ```
 */
export interface DigimeWriteErrorOptions {
  /** The underlying error, already stripped of secrets. */
  cause?: unknown;
}

/**
 * Base class of every error the library throws.
 *
 * @example
 * ```ts
 * if (error instanceof DigimeWriteError && error.retryable) scheduleLater();
 * ```
 */
export class DigimeWriteError extends Error {
  /** Stable, machine-readable code. */
  readonly code: ErrorCode;
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable: boolean, options: DigimeWriteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * One problem found while validating an input.
 *
 * @example
 * ```ts
 * const fields = error.issues.map((issue: ValidationIssue) => `${issue.path}: ${issue.message}`);
 * ```
 */
export interface ValidationIssue {
  /** Dotted path of the offending field, for example `fileMeta.fileDescriptor.mimeType`. */
  readonly path: string;
  /** What was wrong with it. */
  readonly message: string;
}

/**
 * An input did not have the expected shape. The message names every field
 * that was wrong; {@link ValidationError.issues} lists them one by one.
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (error instanceof ValidationError) console.error(error.issues.map((i) => i.path));
 * }
 * ```
 */
export class ValidationError extends DigimeWriteError {
  /** Each field that was wrong and why. */
  readonly issues: readonly ValidationIssue[];

  constructor(
    code: "INVALID_OPTIONS" | "INVALID_ARGUMENT" | "INVALID_CALLBACK",
    subject: string,
    issues: readonly ValidationIssue[],
  ) {
    const detail = issues.map((issue) => `${issue.path || subject}: ${issue.message}`).join("; ");
    super(code, `Invalid ${subject}: ${detail}`, false);
    this.issues = issues;
  }
}

/**
 * The user declined, or digi.me reported a failure, on the consent screen
 * (`success=false` in the callback).
 *
 * @example
 * ```ts
 * if (error instanceof AuthorizationDeniedError && error.errorCode === "UserCancelled") showRetryButton();
 * ```
 */
export class AuthorizationDeniedError extends DigimeWriteError {
  /** The `errorCode` digi.me put in the callback, for example `UserCancelled`. */
  readonly errorCode: string;
  /** The app user the authorization was for, when the state was recognised. */
  readonly userId: string | undefined;

  constructor(errorCode: string, userId: string | undefined) {
    super("AUTHORIZATION_DENIED", `Authorization was not granted: digi.me returned errorCode "${errorCode}"`, false);
    this.errorCode = errorCode;
    this.userId = userId;
  }
}

/**
 * The callback's `state` could not be matched to a live authorization bundle:
 * it differs from the sealed bundle, expired, was already used, is unknown,
 * or the sealed bundle was altered or sealed under a secret no longer listed.
 * No code exchange happens after this error.
 *
 * @example
 * ```ts
 * if (error instanceof AuthorizationStateError) res.status(400).send("Please connect again.");
 * ```
 */
export class AuthorizationStateError extends DigimeWriteError {
  /** Which check failed: `STATE_MISMATCH`, `STATE_EXPIRED`, `STATE_REPLAYED`, `STATE_UNKNOWN` or `STATE_TAMPERED`. */
  declare readonly code: "STATE_MISMATCH" | "STATE_EXPIRED" | "STATE_REPLAYED" | "STATE_UNKNOWN" | "STATE_TAMPERED";

  constructor(code: AuthorizationStateError["code"], message: string, options?: DigimeWriteErrorOptions) {
    super(code, message, false, options);
  }
}

/**
 * The callback belongs to an authorization started for another user than
 * `expectedUserId`: someone sent their consent URL to this browser's user.
 * Refused before the code exchange; nothing was stored, and the state is used up.
 *
 * @example
 * ```ts
 * await client.completeAuthorization(req.query, { sealed, expectedUserId: req.session.userId }).catch((error) => {
 *   if (error instanceof AuthorizationUserMismatchError) res.status(403).send("This link was not meant for you.");
 * });
 * ```
 */
export class AuthorizationUserMismatchError extends DigimeWriteError {
  declare readonly code: "AUTHORIZATION_USER_MISMATCH";

  constructor() {
    super("AUTHORIZATION_USER_MISMATCH", "The authorization was started for another user than expectedUserId; nothing was stored", false);
  }
}

/**
 * The SDK failed to exchange the authorization code for a user access token.
 *
 * @example
 * ```ts
 * if (error instanceof TokenExchangeError && error.retryable) retryCallbackLater();
 * ```
 */
export class TokenExchangeError extends DigimeWriteError {
  constructor(message: string, retryable: boolean, options?: DigimeWriteErrorOptions) {
    super("TOKEN_EXCHANGE_FAILED", message, retryable, options);
  }
}

/**
 * `beginAuthorization` failed: the SDK could not get an authorization URL
 * from digi.me, or the pending authorization store failed. `retryable` says
 * whether starting again later may work; `cause` is a sanitized description
 * (the SDK's own error may carry the request, tokens included).
 *
 * @example
 * ```ts
 * if (error instanceof AuthorizationStartError && error.retryable) res.status(503).send("Please try again shortly.");
 * ```
 */
export class AuthorizationStartError extends DigimeWriteError {
  constructor(message: string, retryable: boolean, options?: DigimeWriteErrorOptions) {
    super("AUTHORIZATION_START_FAILED", message, retryable, options);
  }
}

/**
 * No credentials are stored for this user and contract: run
 * {@link WriteClient.beginAuthorization} first.
 *
 * @example
 * ```ts
 * if (error instanceof NotAuthorizedError) return res.redirect("/connect");
 * ```
 */
export class NotAuthorizedError extends DigimeWriteError {
  /** The app user without credentials. */
  readonly userId: string;

  constructor(userId: string) {
    super("USER_NOT_AUTHORIZED", `No credentials are stored for user "${userId}"; authorize the user first`, false);
    this.userId = userId;
  }
}

/**
 * The user's refresh token has expired or was rejected: only a new
 * authorization helps. Raised without calling the SDK when the stored refresh
 * token is already past its expiry.
 *
 * @example
 * ```ts
 * client.on("reauthorization:required", ({ userId }) => notifyUser(userId));
 * ```
 */
export class ReauthorizationRequiredError extends DigimeWriteError {
  /** The app user who must authorize again. */
  readonly userId: string;
  /** Why, in a few words (also the end of the message). */
  readonly reason: string;
  /**
   * Set on a failed write when an earlier attempt failed in a way that leaves
   * open whether digi.me stored the file (a connection reset mid-request).
   */
  readonly possiblyDelivered: boolean;

  constructor(userId: string, reason: string, options?: DigimeWriteErrorOptions & { possiblyDelivered?: boolean }) {
    super("REAUTHORIZATION_REQUIRED", `User "${userId}" must authorize again: ${reason}`, false, options);
    this.userId = userId;
    this.reason = reason;
    this.possiblyDelivered = options?.possiblyDelivered ?? false;
  }
}

/**
 * What the library knows about a failed delivery attempt.
 *
 * @example
 * ```ts
 * const details: DeliveryFailureDetails = { attempts: error.attempts, httpStatus: error.httpStatus, possiblyDelivered: error.possiblyDelivered };
 * ```
 */
export interface DeliveryFailureDetails {
  /** Attempts made, including the last one. */
  attempts: number;
  /** HTTP status the SDK reported, when there was one. */
  httpStatus?: number | undefined;
  /** digi.me's error code (for example `InvalidToken`), when there was one. */
  sdkErrorCode?: string | undefined;
  /** Set when a network error happened after the request may have reached digi.me. */
  possiblyDelivered?: boolean | undefined;
}

/**
 * A write could not be delivered. `DELIVERY_REJECTED`: digi.me refused it and
 * retrying cannot help (a 4xx, a validation error). `DELIVERY_RETRIES_EXHAUSTED`:
 * every attempt met a transient fault. `DELIVERY_ATTEMPT_FAILED`: only in
 * `write:retrying`, one attempt met a transient fault and the write will be
 * tried again. `STREAM_NOT_RETRYABLE`: a transient
 * fault hit a write whose `fileData` was a plain `Readable`, which can be read
 * only once; pass a factory `() => Readable` to make it retryable.
 *
 * @example
 * ```ts
 * if (error instanceof DeliveryError) log.warn({ code: error.code, attempts: error.attempts });
 * ```
 */
export class DeliveryError extends DigimeWriteError {
  /** Attempts made, including the last one. */
  readonly attempts: number;
  /** HTTP status of the last attempt, when known. */
  readonly httpStatus: number | undefined;
  /** digi.me's error code of the last attempt, when known. */
  readonly sdkErrorCode: string | undefined;
  /** True when any attempt of the write failed in a way that leaves open whether digi.me stored the file. */
  readonly possiblyDelivered: boolean;

  constructor(
    code: "DELIVERY_REJECTED" | "DELIVERY_RETRIES_EXHAUSTED" | "DELIVERY_ATTEMPT_FAILED" | "STREAM_NOT_RETRYABLE",
    message: string,
    details: DeliveryFailureDetails,
    options?: DigimeWriteErrorOptions,
  ) {
    super(code, message, code !== "DELIVERY_REJECTED", options);
    this.attempts = details.attempts;
    this.httpStatus = details.httpStatus;
    this.sdkErrorCode = details.sdkErrorCode;
    this.possiblyDelivered = details.possiblyDelivered ?? false;
  }
}

/**
 * The queue is at one of its bounds (see {@link QueueFullError.reason});
 * nothing was enqueued.
 *
 * @example
 * ```ts
 * if (error instanceof QueueFullError) res.status(503).set("Retry-After", "5").end();
 * ```
 */
export class QueueFullError extends DigimeWriteError {
  declare readonly code: "QUEUE_FULL";
  /** The configured bound that was reached. */
  readonly limit: number;
  /** Which bound: all writes (`maxQueued`), this user's writes (`maxQueuedPerUser`), or queued payload bytes (`maxQueuedBytes`). */
  readonly reason: "total" | "per-user" | "bytes";

  /** The user whose bound was reached (`per-user` only, where the queue knows it). */
  readonly userId: string | undefined;

  constructor(limit: number, reason: QueueFullError["reason"] = "total", userId?: string) {
    const option = reason === "total" ? "maxQueued" : reason === "per-user" ? (userId === undefined ? "maxQueuedPerUser, for this user" : `maxQueuedPerUser, for user ${JSON.stringify(userId)}`) : "maxQueuedBytes";
    super("QUEUE_FULL", `The write queue is full (${option}: ${limit}); try again once it drains`, true);
    this.limit = limit;
    this.reason = reason;
    this.userId = userId;
  }
}

/**
 * The write's `AbortSignal` fired before it was delivered.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * client.write("alice", file, { signal: controller.signal }).catch((e) => e.code === "WRITE_ABORTED");
 * ```
 */
export class WriteAbortedError extends DigimeWriteError {
  /**
   * True when an attempt made before the abort failed in a way that leaves
   * open whether digi.me stored the file (a connection reset mid-request).
   */
  readonly possiblyDelivered: boolean;

  constructor(reason?: unknown, possiblyDelivered = false) {
    super("WRITE_ABORTED", "The write was aborted before it was delivered", false, reason === undefined ? {} : { cause: reason });
    this.possiblyDelivered = possiblyDelivered;
  }
}

/**
 * The client is closing or closed: the write was refused, or it was still
 * queued when `close({ drain: false })` ran.
 *
 * @example
 * ```ts
 * await client.close({ drain: false }); // queued writes reject with CLIENT_CLOSED
 * ```
 */
export class ClientClosedError extends DigimeWriteError {
  constructor(message = "The client is closed; no more writes are accepted") {
    super("CLIENT_CLOSED", message, false);
  }
}

/**
 * A {@link TokenStore} operation failed. The library keeps the newest token
 * in memory and keeps trying to persist it.
 *
 * @example
 * ```ts
 * client.on("token:persist-failed", ({ userId, error }) => alert(userId, error.code));
 * ```
 */
export class TokenStoreError extends DigimeWriteError {
  /** `retryable` is false only for a failure that trying again cannot mend (a record no configured key opens). */
  constructor(message: string, options?: DigimeWriteErrorOptions, retryable = true) {
    super("TOKEN_STORE_FAILED", message, retryable, options);
  }
}

/**
 * A record read through {@link encryptedTokenStore} cannot be opened. Nothing
 * was overwritten: the record stays as it is until a configured key opens it
 * or the app deletes it (the user then authorizes again). Not retryable.
 *
 * @example
 * ```ts
 * if (error instanceof TokenRecordSealError && error.reason === "unknown-key") console.error("add the retired key back to `keys`");
 * ```
 */
export class TokenRecordSealError extends TokenStoreError {
  /** What was wrong with the record: sealed under a key not in `keys` (`unknown-key`), or it does not authenticate (`tampered`). */
  readonly reason: "unknown-key" | "tampered";
  /** The user and contract of the record. */
  readonly userId: string;
  /** The contract of the record. */
  readonly contractId: string;

  constructor(reason: TokenRecordSealError["reason"], userId: string, contractId: string) {
    super(
      reason === "unknown-key"
        ? "A stored token was sealed under a key that is not in `keys` (add the retired key back to open it); nothing was overwritten"
        : "A stored token does not authenticate: it was altered or copied from another user's or contract's record; nothing was overwritten",
      undefined,
      false,
    );
    this.reason = reason;
    this.userId = userId;
    this.contractId = contractId;
  }
}

/**
 * A {@link FileTokenStore} file exists but cannot be read as a token store.
 * The file is left untouched so that nothing is lost; fix or move it.
 *
 * @example
 * ```ts
 * if (error instanceof TokenStoreCorruptError) console.error(`inspect ${error.path}`);
 * ```
 */
export class TokenStoreCorruptError extends DigimeWriteError {
  /** The file that could not be read. */
  readonly path: string;

  constructor(path: string, reason: string, options?: DigimeWriteErrorOptions) {
    super("TOKEN_STORE_CORRUPT", `Token store file "${path}" is corrupt (${reason}); it was left untouched`, false, options);
    this.path = path;
  }
}

/**
 * A {@link FileTokenStore} refuses its directory or file because someone
 * else could read or replace the tokens: the directory or file belongs to
 * another user, is writable by group or others, or the file is a symlink.
 * Nothing is read or written; fix the ownership or mode (`chmod 700` the
 * directory, `chmod 600` the file) or choose another path.
 *
 * @example
 * ```ts
 * if (error instanceof TokenStoreUnsafeError) console.error(`fix permissions of ${error.path}`);
 * ```
 */
export class TokenStoreUnsafeError extends DigimeWriteError {
  declare readonly code: "TOKEN_STORE_UNSAFE";
  /** The directory or file that was refused. */
  readonly path: string;

  constructor(path: string, reason: string) {
    super("TOKEN_STORE_UNSAFE", `Token store path "${path}" is unsafe (${reason}); nothing was read or written`, false);
    this.path = path;
  }
}

/**
 * The SDK returned something of a shape this library does not know: a changed
 * or unsupported SDK. Fails loudly rather than guessing.
 *
 * @example
 * ```ts
 * if (error instanceof SdkResponseError) reportSdkUpgradeProblem(error.message);
 * ```
 */
export class SdkResponseError extends DigimeWriteError {
  constructor(method: string, detail: string) {
    super("SDK_RESPONSE_INVALID", `The SDK's ${method} returned an unexpected value: ${detail}`, false);
  }
}

/**
 * digi.me's token endpoint answered, but the answer did not pass
 * verification: not a PS512 JWT, a signature that does not verify with the
 * key its `kid` names, an expired JWT, claims of the wrong shape, or a token
 * pair that has already expired. Raised only by the library's own refresher
 * (option `digimeApi`); the answer is never used, and the message never
 * quotes it.
 *
 * @example
 * ```ts
 * if (error instanceof TokenResponseInvalidError) alertSecurityTeam(error.message);
 * ```
 */
export class TokenResponseInvalidError extends DigimeWriteError {
  declare readonly code: "TOKEN_RESPONSE_INVALID";

  constructor(detail: string, options?: DigimeWriteErrorOptions) {
    super("TOKEN_RESPONSE_INVALID", `digi.me's token endpoint answered with a token that failed verification: ${detail}`, false, options);
  }
}

/**
 * The token endpoint's answer names a key set (`jku`) outside the origin of
 * the configured `digimeApi.baseUrl`. The library fetches keys only from
 * there, so it refused the answer without fetching anything.
 *
 * @example
 * ```ts
 * if (error instanceof TokenKeySetUntrustedError) log.error({ origin: error.keySetOrigin }, "unexpected key set");
 * ```
 */
export class TokenKeySetUntrustedError extends DigimeWriteError {
  declare readonly code: "TOKEN_KEY_SET_UNTRUSTED";
  /** The origin the answer pointed at (scheme, host and port only). */
  readonly keySetOrigin: string;

  constructor(keySetOrigin: string, trustedOrigin: string) {
    super(
      "TOKEN_KEY_SET_UNTRUSTED",
      `digi.me's token endpoint named a key set at ${keySetOrigin}, outside the configured API origin ${trustedOrigin}; the answer was refused`,
      false,
    );
    this.keySetOrigin = keySetOrigin;
  }
}

/**
 * Why {@link PayloadStoreRequiredError} refused a durable write: the bytes
 * exceed `maxInlineBytes`, or `fileData` is a stream or a stream factory.
 *
 * @example
 * ```ts
 * if (error instanceof PayloadStoreRequiredError && error.reason === "too-large") log.warn({ size: error.size });
 * ```
 */
export type PayloadStoreRequiredReason = "too-large" | "stream";

/**
 * `DurableWriteQueue.enqueue` refused a payload it cannot keep inside the job:
 * larger than `maxInlineBytes`, or a stream or a factory of streams. Pass a
 * `payloadStore` (for example `DirectoryPayloadStore` over a directory every
 * worker can read) or raise `maxInlineBytes`. Nothing was enqueued.
 *
 * @example
 * ```ts
 * if (error instanceof PayloadStoreRequiredError) console.error(error.message); // says which option helps
 * ```
 */
export class PayloadStoreRequiredError extends DigimeWriteError {
  declare readonly code: "PAYLOAD_STORE_REQUIRED";
  /** Too large for the job, or a stream. */
  readonly reason: PayloadStoreRequiredReason;
  /** The payload's size in bytes, when known. */
  readonly size: number | undefined;
  /** The configured `maxInlineBytes`. */
  readonly limit: number;

  constructor(reason: PayloadStoreRequiredReason, size: number | undefined, limit: number) {
    const what =
      reason === "too-large"
        ? `fileMeta.fileData is ${size} bytes, more than maxInlineBytes (${limit}) kept inside a job`
        : "fileMeta.fileData is a stream or a stream factory, which cannot be kept inside a job";
    super("PAYLOAD_STORE_REQUIRED", `${what}: pass the payloadStore option (for example a DirectoryPayloadStore over a directory every worker can read)${reason === "too-large" ? " or raise maxInlineBytes" : ""}`, false);
    this.reason = reason;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The durable queue (Redis) could not be reached or did not confirm in time:
 * the write was not confirmed (if Redis was lost mid-command, it may still
 * have been kept). Enqueue it again with the same id once Redis is back:
 * the same id is never delivered twice on purpose.
 *
 * @example
 * ```ts
 * if (error instanceof QueueUnavailableError) res.status(503).set("Retry-After", "5").end();
 * ```
 */
export class QueueUnavailableError extends DigimeWriteError {
  declare readonly code: "QUEUE_UNAVAILABLE";

  constructor(operation: string, options?: DigimeWriteErrorOptions) {
    super("QUEUE_UNAVAILABLE", `The durable write queue is unavailable (${operation}): the write was not confirmed; enqueue it again with the same id once Redis is back`, true, options);
  }
}

/**
 * No durable write with this id exists (never enqueued, or removed after
 * its retention time).
 *
 * @example
 * ```ts
 * queue.result("order-1").catch((e) => e instanceof WriteNotFoundError && console.log("unknown id", e.id));
 * ```
 */
export class WriteNotFoundError extends DigimeWriteError {
  declare readonly code: "WRITE_NOT_FOUND";
  /** The write id asked for. */
  readonly id: string;

  constructor(id: string) {
    super("WRITE_NOT_FOUND", `No durable write with id ${JSON.stringify(id)} exists (never enqueued, or past its retention)`, false);
    this.id = id;
  }
}

/**
 * Redis refused the durable queue's command for a reason no retry cures
 * (`CROSSSLOT`, `NOSCRIPT`, `WRONGTYPE`, `MOVED`, authentication, or an
 * untagged prefix on Redis Cluster); the message names the fix. Nothing was
 * enqueued.
 *
 * @example
 * ```ts
 * if (error instanceof QueueMisconfiguredError) log.fatal({ redisError: error.redisError }, error.message);
 * ```
 */
export class QueueMisconfiguredError extends DigimeWriteError {
  declare readonly code: "QUEUE_MISCONFIGURED";
  /** The first word of Redis's reply (`CROSSSLOT`, `WRONGPASS`…), or `CLUSTER_PREFIX` for an untagged prefix on a cluster. */
  readonly redisError: string;

  constructor(redisError: string, fix: string, options?: DigimeWriteErrorOptions) {
    super("QUEUE_MISCONFIGURED", `The durable write queue is misconfigured (${redisError}): ${fix}`, false, options);
    this.redisError = redisError;
  }
}
