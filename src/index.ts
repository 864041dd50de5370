/**
 * digime-write-pipeline: write data into users' digi.me libraries with an
 * authorization bundle, a pluggable token store and a queued, retrying writer
 * that never loses a refreshed token.
 *
 * @example
 * ```ts
 * import { WriteClient, MemoryTokenStore } from "digime-write-pipeline";
 * const client = new WriteClient({ sdk, contractDetails, redirectUri, tokenStore: new MemoryTokenStore() });
 * ```
 * @module digime-write-pipeline
 */
export { WriteClient, type CloseOptions, type CloseResult, type AuthorizationStatus, type RefreshExpiringOptions } from "./write-client.js";
export type { RefreshExpiringReport, UpkeepFailure } from "./tokens/token-upkeep.js";
export type { WriteClientOptions, DigimeApiOptions } from "./client-options.js";
export type { OpenTelemetryApi, OpenTelemetryOptions } from "./telemetry/opentelemetry.js";

// Authorization
export type {
  BeginAuthorizationInput,
  BeginAuthorizationResult,
  CompleteAuthorizationOptions,
  CompleteAuthorizationResult,
} from "./authorization/authorizer.js";
export type { AuthorizationBundle } from "./authorization/bundle.js";
export type { CallbackInput } from "./authorization/callback.js";
export type { PendingAuthorizationStore } from "./stores/pending-store.js";
export { MemoryPendingAuthorizationStore, type MemoryPendingAuthorizationStoreOptions } from "./stores/memory/memory-pending-store.js";

// Token stores (what a store of your own implements: "digime-write-pipeline/stores")
export type { TokenStore } from "./stores/token-store.js";
export { MemoryTokenStore, type MemoryTokenStoreOptions } from "./stores/memory/memory-token-store.js";
export { FileTokenStore, type FileTokenStoreOptions } from "./stores/file/file-token-store.js";
export { encryptedTokenStore, type EncryptedTokenStoreOptions } from "./stores/encrypted-token-store.js";
export type { PersistRetryOptions, RefreshCoordinationOptions } from "./tokens/token-keeper.js";

// Writing
export type { WriteFileMeta, ReadableFactory } from "./writing/file-meta.js";
export type { WriteOptions } from "./writing/writer.js";
export { QUEUE_DEFAULTS, type QueueOptions } from "./scheduling/lane-scheduler.js";
export { RETRY_DEFAULTS, type RetryOptions } from "./writing/retry-policy.js";

// The SDK as the client takes it (the generations' own shapes: "digime-write-pipeline/sdk")
export type { DigimeSdk, SdkGeneration, FileDescriptor, UserAccessToken } from "./sdk/types.js";

// Events
export type {
  AuthorizationCompletedEvent,
  AuthorizationFailedEvent,
  WriteQueuedEvent,
  WriteStartedEvent,
  WriteRetryingEvent,
  WriteSucceededEvent,
  WriteFailedEvent,
  TokenRefreshedEvent,
  TokenPersistFailedEvent,
  ReauthorizationRequiredEvent,
  SdkLimitationEvent,
  ConfigWarningEvent,
  QueueIdleEvent,
  WriteReceipt,
  WriteClientEvents,
  WriteClientEventName,
} from "./events.js";

// Errors (those only the durable queue throws are exported from "digime-write-pipeline/bullmq")
export {
  type ErrorCode,
  DigimeWriteError,
  type ValidationIssue,
  ValidationError,
  AuthorizationDeniedError,
  AuthorizationStateError,
  AuthorizationUserMismatchError,
  TokenExchangeError,
  AuthorizationStartError,
  NotAuthorizedError,
  ReauthorizationRequiredError,
  type DeliveryFailureDetails,
  DeliveryError,
  QueueFullError,
  WriteAbortedError,
  ClientClosedError,
  TokenStoreError,
  TokenRecordSealError,
  TokenStoreCorruptError,
  TokenStoreUnsafeError,
  SdkResponseError,
  TokenResponseInvalidError,
  TokenKeySetUntrustedError,
} from "./errors.js";
