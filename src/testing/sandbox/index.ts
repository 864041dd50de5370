/**
 * The sandbox: a simulated digi.me, in process, for this library's tests and
 * its users' tests. One core state; front ends over it: in-process fakes of
 * SDK 8.x, 10.x and 16.x, and digi.me's wire protocol over HTTP (msw
 * handlers, or a loopback server) for the real SDK.
 *
 * @example
 * ```ts
 * import { createSandbox } from "digime-write-pipeline/testing";
 * const sandbox = createSandbox();
 * const sdk = sandbox.sdk("v16");
 * ```
 * @module
 */
export { createSandbox, type Sandbox, type SandboxFaults } from "./create-sandbox.js";
export type { SandboxSdkV16 } from "./fakes/generation-c.js";
export type { SandboxSnapshot, SnapshotContract, SnapshotLibrary, SnapshotTokenPair } from "./snapshot.js";
export type { SandboxHandlersOptions, SandboxListenOptions, SandboxRequestHandler, SandboxRequestLogEntry, SandboxServer } from "./http/types.js";
export type {
  ConsentOptions,
  DeliveredFile,
  FaultHandle,
  FaultOperation,
  FaultRule,
  NetworkErrorCode,
  SandboxContract,
  SandboxCounters,
  SandboxEndpoint,
  SandboxGeneration,
  SandboxLibrary,
  SandboxOptions,
  SandboxSdkVersion,
} from "./types.js";
export {
  DigiMeSDKError,
  HTTPError,
  RequestError,
  SDKInvalidError,
  ServerError,
  TypeValidationError,
  type ApiError,
  type GotResponseLike,
} from "./sdk-errors.js";
