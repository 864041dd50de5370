import { describe, expectTypeOf, it } from "vitest";
import type { DigimeWriteError, WriteClient, WriteReceipt } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import type { DigimeSdk, SdkGenerationA, SdkGenerationB, SdkGenerationC } from "../../src/sdk/index.js";

describe("the event map is typed", () => {
  it("gives listeners their payload types and refuses unknown events", () => {
    const on = (client: WriteClient) => {
      client.on("write:retrying", (e) => {
        expectTypeOf(e.attempt).toEqualTypeOf<number>();
        expectTypeOf(e.error).toEqualTypeOf<DigimeWriteError>();
      });
      client.on("write:succeeded", (e) => expectTypeOf(e.receipt).toEqualTypeOf<WriteReceipt>());
      client.on("token:refreshed", (e) => expectTypeOf(e.source).toEqualTypeOf<"write" | "proactive">());
      // @ts-expect-error: not an event of the client
      client.on("write:retried", () => {});
      // @ts-expect-error: payload has no such field
      client.on("write:failed", (e) => e.token);
    };
    expectTypeOf(on).toBeFunction();
  });

  it("accepts every sandbox SDK generation without a cast", () => {
    const sandbox = createSandbox();
    expectTypeOf(sandbox.sdk("v8")).toExtend<SdkGenerationA>();
    expectTypeOf(sandbox.sdk("v10")).toExtend<SdkGenerationB>();
    expectTypeOf(sandbox.sdk("v16")).toExtend<SdkGenerationC>();
    expectTypeOf(sandbox.sdk("v16")).toExtend<DigimeSdk>();
  });
});
