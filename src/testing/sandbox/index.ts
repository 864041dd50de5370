/**
 * The sandbox: a simulated digi.me, in process, for this library's tests and
 * its users' tests. One core state; front ends over it (in-process fakes of
 * SDK 8.x, 10.x and 16.x).
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
export type {
  ConsentOptions,
  DeliveredFile,
  FaultHandle,
  FaultOperation,
  FaultRule,
  NetworkErrorCode,
  SandboxContract,
  SandboxCounters,
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
