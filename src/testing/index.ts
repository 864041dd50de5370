/**
 * Test helpers: a simulated digi.me (the sandbox) and the contract suite
 * every {@link "digime-write-pipeline"!TokenStore | TokenStore} implementation must pass.
 *
 * @example
 * ```ts
 * import { createSandbox } from "digime-write-pipeline/testing";
 * const sandbox = createSandbox();
 * const sdk = sandbox.sdk("v16");
 * ```
 * @module digime-write-pipeline/testing
 */

// --- sandbox (owned by src/testing/sandbox/) ---
export * from "./sandbox/index.js";

// --- store contract suites (owned by src/testing/token-store-contract.ts, pending-store-contract.ts) ---
export * from "./token-store-contract.js";
export * from "./pending-store-contract.js";

// --- a generation-C SDK over HTTP (owned by src/testing/http-sdk.ts) ---
export { createHttpSdk, type HttpSdkOptions } from "./http-sdk.js";
