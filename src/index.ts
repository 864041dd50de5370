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
export type {
  BeginAuthorizationInput,
  BeginAuthorizationResult,
  CompleteAuthorizationOptions,
  CompleteAuthorizationResult,
} from "./authorization/authorizer.js";
export type { AuthorizationBundle } from "./authorization/bundle.js";
export type { CallbackInput, ParsedCallback } from "./authorization/callback.js";
export {
  MemoryPendingAuthorizationStore,
  type PendingAuthorizationStore,
  type MemoryPendingAuthorizationStoreOptions,
  type ConsumeResult,
} from "./authorization/pending-store.js";
export type { TokenStore, Credentials, CredentialsKey, StoredCredentials, SetOptions, SetResult, RefreshLeases, RefreshLeaseOptions, ExpiringTokens, ListExpiringOptions, ExpiringCursor } from "./tokens/token-store.js";
export { MemoryTokenStore, type MemoryTokenStoreOptions } from "./tokens/memory-token-store.js";
export { FileTokenStore, type FileTokenStoreOptions } from "./tokens/file-token-store.js";
export { encryptedTokenStore, type EncryptedTokenStoreOptions } from "./tokens/encrypted-token-store.js";
export type { PersistRetryOptions, RefreshCoordinationOptions } from "./tokens/token-keeper.js";
export type { WriteFileMeta, ReadableFactory } from "./writing/file-meta.js";
export type { WriteOptions } from "./writing/writer.js";
export { DEFAULT_QUEUE_OPTIONS, PROACTIVE_PER_USER_CONCURRENCY, type QueueOptions } from "./writing/write-queue.js";
export { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "./writing/retry-policy.js";
export * from "./events.js";
export * from "./errors.js";
export type * from "./sdk/types.js";
