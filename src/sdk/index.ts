/**
 * The shapes of `@digime/digime-sdk-nodejs` as this library types them,
 * structurally, for each of the SDK's three write generations: for an app
 * that wraps the SDK, fakes it in its own tests, or wants to name what
 * `init()` returns. The client itself needs only {@link DigimeSdk}, which the
 * package root exports too.
 *
 * @example
 * ```ts
 * import type { SdkGenerationC } from "digime-write-pipeline/sdk";
 * const traced = (sdk: SdkGenerationC): SdkGenerationC => ({ ...sdk, pushData: (options) => tracer.wrap(() => sdk.pushData(options)) });
 * ```
 * @module digime-write-pipeline/sdk
 */
export type * from "./types.js";
