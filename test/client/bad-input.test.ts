import { describe, expect, it } from "vitest";
import { MemoryTokenStore, ValidationError, WriteClient } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, setup } from "../support/setup.js";

const sandbox = createSandbox();
const valid = {
  sdk: sandbox.sdk("v16"),
  contractDetails: sandbox.contractDetails,
  redirectUri: REDIRECT_URI,
  tokenStore: new MemoryTokenStore(),
};

function refusal(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

describe("constructor options are validated, naming the field", () => {
  it.each([
    ["no sdk", { sdk: undefined }, "options.sdk"],
    ["an sdk without write methods", { sdk: { getAuthorizeUrl() {}, exchangeCodeForToken() {} } }, "options.sdk"],
    ["an empty contract id", { contractDetails: { contractId: "", privateKey: sandbox.contractDetails.privateKey } }, "options.contractDetails.contractId"],
    ["a private key that is not PEM", { contractDetails: { contractId: "c", privateKey: "secret" } }, "options.contractDetails.privateKey"],
    ["a relative redirect URI", { redirectUri: "/callback" }, "options.redirectUri"],
    ["a javascript: redirect URI", { redirectUri: "javascript:alert(1)" }, "options.redirectUri"],
    ["no token store", { tokenStore: undefined }, "options.tokenStore"],
    ["a token store without set", { tokenStore: { get() {}, delete() {}, listByUser() {} } }, "options.tokenStore.set"],
    ["a short state secret", { stateSecret: "short" }, "options.stateSecret"],
    ["a state secret of one repeated character (\"a\" × 43)", { stateSecret: "a".repeat(43) }, "options.stateSecret"],
    ["a state secret that repeats a password", { stateSecret: "password".repeat(6) }, "options.stateSecret"],
    ["a state secret that is a sentence, not base64 or hex", { stateSecret: "correct horse battery staple is not random!" }, "options.stateSecret"],
    ["a hex state secret of 31 bytes", { stateSecret: "3e0018154354ad57881b093acdfa8467fa04048749a6ae5f94172e6f10b878" }, "options.stateSecret"],
    ["an empty secret list", { stateSecret: [] }, "options.stateSecret"],
    ["zero concurrency", { queue: { concurrency: 0 } }, "options.queue.concurrency"],
    ["fractional maxQueued", { queue: { maxQueued: 1.5 } }, "options.queue.maxQueued"],
    ["negative retries", { retry: { retries: -1 } }, "options.retry.retries"],
    ["a string retry delay", { retry: { minDelayMs: "100" } }, "options.retry.minDelayMs"],
    ["an unknown generation", { sdkGeneration: "D" }, "options.sdkGeneration"],
    ["a clock that is not a function", { now: 5 }, "options.now"],
    ["a misspelt option", { refreshWindowMS: 5000 }, "options.refreshWindowMS"],
    ["an unknown queue option", { queue: { concurency: 2 } }, "options.queue.concurency"],
    ["an unknown retry option", { retry: { retires: 2 } }, "options.retry.retires"],
    ["an unknown persistRetry option", { persistRetry: { attempts: 2 } }, "options.persistRetry.attempts"],
    ["digimeApi without applicationId", { digimeApi: {} }, "options.digimeApi.applicationId"],
    ["digimeApi with an empty applicationId", { digimeApi: { applicationId: "" } }, "options.digimeApi.applicationId"],
    ["digimeApi with a relative baseUrl", { digimeApi: { applicationId: "app", baseUrl: "/v1.7/" } }, "options.digimeApi.baseUrl"],
    ["digimeApi with a tiny timeout", { digimeApi: { applicationId: "app", timeoutMs: 5 } }, "options.digimeApi.timeoutMs"],
    ["digimeApi with a misspelt key", { digimeApi: { applicationID: "app" } }, "options.digimeApi.applicationID"],
  ])("%s", (_name, change, path) => {
    const error = refusal(() => new WriteClient({ ...valid, ...change } as never));
    expect(error.code).toBe("INVALID_OPTIONS");
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.message).toContain(path);
    // The message never echoes the private key.
    expect(error.message).not.toContain("PRIVATE KEY");
  });

  it("refuses options that are not an object", () => {
    expect(refusal(() => new WriteClient(null as never)).code).toBe("INVALID_OPTIONS");
  });
});

describe("method arguments are validated, and the client keeps working afterwards", () => {
  it("beginAuthorization", async () => {
    const h = setup("v16");
    for (const [input, path] of [
      [{ userId: "" }, "input.userId"],
      [{ userId: 42 }, "input.userId"],
      [{ userId: "x".repeat(300) }, "input.userId"],
      [{ userId: "a", serviceId: -1 }, "input.serviceId"],
      [{ userId: "a", serviceId: 1.5 }, "input.serviceId"],
      [{ userId: "a", context: { big: "x".repeat(5000) } }, "input.context"],
      [{ userId: "a", context: 10n }, "input.context"],
      [undefined, "input"],
    ] as const) {
      const error = await h.client.beginAuthorization(input as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(path)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toContain(path);
    }
    await expect(h.client.beginAuthorization({ userId: "ok" })).resolves.toHaveProperty("url");
  });

  it("write: user id, file meta and options", async () => {
    const h = setup("v16");
    await h.authorize("alice");
    const file = jsonFile(1);
    const cases: Array<[unknown, unknown, unknown, string]> = [
      ["", file, undefined, "userId"],
      [null, file, undefined, "userId"],
      ["alice", undefined, undefined, "fileMeta"],
      ["alice", { ...file, fileData: "text" }, undefined, "fileMeta.fileData"],
      ["alice", { ...file, fileData: 42 }, undefined, "fileMeta.fileData"],
      ["alice", { ...file, fileData: { length: 3 } }, undefined, "fileMeta.fileData"],
      ["alice", { ...file, fileName: "" }, undefined, "fileMeta.fileName"],
      ["alice", { ...file, fileName: "a\u0000b" }, undefined, "fileMeta.fileName"],
      ["alice", { ...file, fileDescriptor: undefined }, undefined, "fileMeta.fileDescriptor"],
      ["alice", { ...file, fileDescriptor: { mimeType: "json", accounts: [] } }, undefined, "fileMeta.fileDescriptor.mimeType"],
      ["alice", { ...file, fileDescriptor: { mimeType: "text/plain", accounts: "acc" } }, undefined, "fileMeta.fileDescriptor.accounts"],
      ["alice", { ...file, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: 1 }] } }, undefined, "fileMeta.fileDescriptor.accounts[0].accountId"],
      ["alice", { ...file, fileDescriptor: { mimeType: "text/plain", accounts: [], tags: [""] } }, undefined, "fileMeta.fileDescriptor.tags[0]"],
      ["alice", file, { priority: Number.NaN }, "options.priority"],
      ["alice", file, { priority: "high" }, "options.priority"],
      ["alice", file, { signal: {} }, "options.signal"],
      ["alice", file, { id: "" }, "options.id"],
      ["alice", file, { id: "x".repeat(257) }, "options.id"],
      ["alice", file, { priority: Number.POSITIVE_INFINITY }, "options.priority"],
      ["alice", file, { possibleDuplicate: "yes" }, "options.possibleDuplicate"],
    ];
    for (const [userId, meta, options, path] of cases) {
      const error = await h.client.write(userId as never, meta as never, options as never).catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe("INVALID_ARGUMENT");
      expect((error as ValidationError).issues.map((i) => i.path), path).toContain(path);
    }
    expect(h.sandbox.counters.writeAttempts).toBe(0);
    await expect(h.client.write("alice", file)).resolves.toMatchObject({ status: "delivered" });
  });

  it("accepts a Uint8Array as file data", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    await h.client.write("alice", { ...jsonFile(1), fileData: new Uint8Array([104, 105]) });
    expect(h.sandbox.library(libraryId)?.files[0]?.bytes.toString()).toBe("hi");
  });

  it("write for a user with no credentials: USER_NOT_AUTHORIZED", async () => {
    const h = setup("v16");
    await expect(h.client.write("nobody", jsonFile(1))).rejects.toMatchObject({ code: "USER_NOT_AUTHORIZED", userId: "nobody" });
    expect(await h.client.authorizationStatus("nobody")).toEqual({ status: "not-authorized" });
  });

  it("a descriptor changed after write() does not change the queued write", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("alice");
    const file = jsonFile(1);
    const pending = h.client.write("alice", file);
    file.fileDescriptor.mimeType = "text/evil";
    await pending;
    expect(h.sandbox.library(libraryId)?.files[0]?.fileDescriptor.mimeType).toBe("application/json");
  });
});
