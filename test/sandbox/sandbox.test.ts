import { Readable } from "node:stream";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ContractDetails, DigimeSdk, SdkFileMeta, SdkGenerationA, SdkGenerationB, SdkGenerationC, UserAccessToken } from "../../src/sdk/types.js";
import {
  createSandbox,
  HTTPError,
  RequestError,
  ServerError,
  TypeValidationError,
  type ConsentOptions,
  type Sandbox,
  type SandboxSdkVersion,
} from "../../src/testing/sandbox/index.js";

const CALLBACK = "https://app.example/digime/callback?tenant=t1";
const REDIRECT = "https://app.example/digime/return?from=digime";
const START = Date.UTC(2030, 0, 1);

function meta(text: string | Readable, fileName = "note.txt"): SdkFileMeta {
  return {
    fileData: typeof text === "string" ? Buffer.from(text) : text,
    fileName,
    fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "account-1" }] },
  };
}

/** A sandbox on a clock the test moves. */
function timedSandbox(options: Parameters<typeof createSandbox>[0] = {}) {
  let now = START;
  const sandbox = createSandbox({ now: () => now, ...options });
  return {
    sandbox,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

/** The contract details each SDK generation wants: 8.x requires redirectUri in every call. */
function detailsFor(version: SandboxSdkVersion, contract: { contractId: string; privateKey: string }): ContractDetails {
  return version === "v8" ? { ...contract, redirectUri: REDIRECT } : { ...contract };
}

interface Onboarded {
  sdk: DigimeSdk;
  contractDetails: ContractDetails;
  token: UserAccessToken;
  libraryId: string;
  postboxId: string;
  publicKey: string;
  authorizeUrl: URL;
  callbackUrl: URL;
}

async function onboard(
  sandbox: Sandbox,
  version: SandboxSdkVersion,
  options: { contract?: { contractId: string; privateKey: string }; userAccessToken?: UserAccessToken; consent?: ConsentOptions } = {},
): Promise<Onboarded> {
  const sdk = sandbox.sdk(version);
  const contractDetails = detailsFor(version, options.contract ?? sandbox.contractDetails);
  const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "state-1", userAccessToken: options.userAccessToken });
  const callbackUrl = new URL(await sandbox.consent(url, options.consent));
  const authorizationCode = callbackUrl.searchParams.get("code") ?? "";
  const token = await sdk.exchangeCodeForToken({ contractDetails, authorizationCode, codeVerifier });
  const libraryId = sandbox.libraryIdOf(token.accessToken.value) ?? "";
  return {
    sdk,
    contractDetails,
    token,
    libraryId,
    postboxId: callbackUrl.searchParams.get("postboxId") ?? "",
    publicKey: callbackUrl.searchParams.get("publicKey") ?? "",
    authorizeUrl: new URL(url),
    callbackUrl,
  };
}

/** Write through whichever generation `user.sdk` is; returns what the SDK returned. */
async function writeAs(version: SandboxSdkVersion, user: Onboarded, data: SdkFileMeta, token: UserAccessToken = user.token, onAccessTokenChange?: (t: UserAccessToken) => void) {
  const base = { contractDetails: user.contractDetails, userAccessToken: token, data };
  if (version === "v8") return (user.sdk as SdkGenerationA).write({ ...base, postboxId: user.postboxId, publicKey: user.publicKey });
  if (version === "v10") return (user.sdk as SdkGenerationB).write(base);
  return (user.sdk as SdkGenerationC).pushData({ type: "library", ...base, onAccessTokenChange });
}

function bytesOf(sandbox: Sandbox, libraryId: string): string[] {
  return (sandbox.library(libraryId)?.files ?? []).map((file) => file.bytes.toString());
}

afterEach(() => {
  vi.useRealTimers();
});

describe.each(["v8", "v10", "v16"] as const)("sandbox with SDK %s", (version) => {
  const generation = { v8: "A", v10: "B", v16: "C" }[version];

  it("authorize → consent → exchange → write puts the bytes into the user's library", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);

    expect(user.authorizeUrl.origin + user.authorizeUrl.pathname).toBe("https://sandbox.digi.me.invalid/apps/saas/authorize");
    expect(user.authorizeUrl.searchParams.has("callback")).toBe(version === "v8");
    expect(user.callbackUrl.searchParams.get("success")).toBe("true");
    expect(user.callbackUrl.searchParams.get("state")).toBe("state-1");
    // 8.x sends success to contractDetails.redirectUri, later versions to callback; existing query is kept.
    expect(user.callbackUrl.searchParams.get(version === "v8" ? "from" : "tenant")).toBe(version === "v8" ? "digime" : "t1");
    expect(user.callbackUrl.searchParams.has("postboxId")).toBe(version === "v8");
    if (version === "v8") expect(user.publicKey).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    expect(user.token.accessToken.value.length).toBeGreaterThanOrEqual(43);
    expect(user.token.accessToken.expiry).toBe(Math.floor(sandbox.now() / 1000) + 3600);
    expect(user.token.user?.id).toBe(version === "v16" ? user.libraryId : undefined);

    const result = await writeAs(version, user, meta("hello"));

    if (version === "v8") expect(result).toEqual({ status: "delivered", expires: user.token.accessToken.expiry, userAccessToken: user.token });
    else expect(result).toBeUndefined();
    const [file] = sandbox.library(user.libraryId)?.files ?? [];
    // Only the postbox upload (generation A) carries the file name; the import endpoint never receives it.
    expect(file).toMatchObject({ libraryId: user.libraryId, contractId: sandbox.contractDetails.contractId, fileName: version === "v8" ? "note.txt" : "", generation });
    expect(file?.bytes.toString()).toBe("hello");
    expect(file?.fileDescriptor.mimeType).toBe("text/plain");
    expect(sandbox.counters).toMatchObject({ authorizeUrls: 1, exchanges: 1, writeAttempts: 1, deliveries: 1, refreshes: 0 });
  });

  it("writes a Readable fully", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    await writeAs(version, user, meta(Readable.from([Buffer.from("chunk-1,"), Buffer.from("chunk-2")])));
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["chunk-1,chunk-2"]);
  });

  it("a denial redirects with exactly what digi.me documents: success=false and the error code, no state", async () => {
    const sandbox = createSandbox();
    const sdk = sandbox.sdk(version);
    const contractDetails = detailsFor(version, sandbox.contractDetails);
    const first = await sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "s-deny" });
    const denied = new URL(await sandbox.consent(first.url, { approve: false }));
    expect(denied.origin + denied.pathname).toBe("https://app.example/digime/callback");
    expect(Object.fromEntries(denied.searchParams)).toEqual({ tenant: "t1", success: "false", errorCode: "UserCancelled" });

    const second = await sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "s2" });
    const custom = new URL(await sandbox.consent(second.url, { approve: false, errorCode: "ServiceAuthorizationError", stateOnDenial: true }));
    expect(custom.searchParams.get("errorCode")).toBe("ServiceAuthorizationError");
    // Only on request: an app can test a denial that does carry state.
    expect(custom.searchParams.get("state")).toBe("s2");
    // A used authorize URL cannot be consented to again.
    await expect(sandbox.consent(second.url)).rejects.toThrow(/already used/);
  });

  it("rejects a PKCE mismatch and a reused authorization code", async () => {
    const sandbox = createSandbox();
    const sdk = sandbox.sdk(version);
    const contractDetails = detailsFor(version, sandbox.contractDetails);

    const a = await sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "s" });
    const codeA = new URL(await sandbox.consent(a.url)).searchParams.get("code") ?? "";
    const mismatch = sdk.exchangeCodeForToken({ contractDetails, authorizationCode: codeA, codeVerifier: `${a.codeVerifier}x` });
    await expect(mismatch).rejects.toBeInstanceOf(ServerError);
    await expect(mismatch).rejects.toMatchObject({ name: "DigiMeServerError", error: { code: "InvalidCodeVerifier" } });

    const b = await sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "s" });
    const codeB = new URL(await sandbox.consent(b.url)).searchParams.get("code") ?? "";
    await sdk.exchangeCodeForToken({ contractDetails, authorizationCode: codeB, codeVerifier: b.codeVerifier });
    await expect(sdk.exchangeCodeForToken({ contractDetails, authorizationCode: codeB, codeVerifier: b.codeVerifier })).rejects.toMatchObject({
      name: "DigiMeServerError",
      error: { code: "InvalidAuthorizationCode" },
    });
    expect(sandbox.counters.exchanges).toBe(1);
  });

  it("rejects a contract whose private key does not match", async () => {
    const sandbox = createSandbox();
    const other = createSandbox();
    const sdk = sandbox.sdk(version);
    const contractDetails = detailsFor(version, { contractId: sandbox.contractDetails.contractId, privateKey: other.contractDetails.privateKey });
    await expect(sdk.getAuthorizeUrl({ contractDetails, callback: CALLBACK, state: "s" })).rejects.toMatchObject({ error: { code: "InvalidClient" } });
  });

  it("refreshes a stale access token inside the write and still delivers", async () => {
    const { sandbox, advance } = timedSandbox();
    const user = await onboard(sandbox, version);
    advance(3601);
    const changes: UserAccessToken[] = [];

    const result = await writeAs(version, user, meta("after expiry"), user.token, (token) => changes.push(token));

    expect(bytesOf(sandbox, user.libraryId)).toEqual(["after expiry"]);
    expect(sandbox.counters.refreshes).toBe(1);
    const latest = sandbox.latestToken(user.libraryId);
    if (version === "v8") {
      const { userAccessToken } = result as Awaited<ReturnType<SdkGenerationA["write"]>>;
      expect(userAccessToken).not.toBe(user.token);
      expect(userAccessToken.accessToken.value).toBe(latest?.accessToken.value);
      expect(userAccessToken.refreshToken.value).toBe(latest?.refreshToken.value);
    }
    if (version === "v10") expect(result).toBeUndefined();
    if (version === "v16") {
      expect(changes).toHaveLength(1);
      expect(changes[0]).toEqual(latest);
    }
    // The refresh token the write used is spent.
    expect(latest?.refreshToken.value).not.toBe(user.token.refreshToken.value);
  });

  it("keeps the token untouched when nothing was refreshed", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    const onAccessTokenChange = vi.fn();
    const result = await writeAs(version, user, meta("x"), user.token, onAccessTokenChange);
    if (version === "v8") expect((result as { userAccessToken: UserAccessToken }).userAccessToken).toBe(user.token);
    expect(onAccessTokenChange).not.toHaveBeenCalled();
    expect(sandbox.counters.refreshes).toBe(0);
  });

  it("reproduces the race: two concurrent writes across an expiry, one fails with InvalidToken", async () => {
    const { sandbox, advance } = timedSandbox();
    const user = await onboard(sandbox, version);
    advance(3601);

    const outcomes = await Promise.allSettled([writeAs(version, user, meta("one")), writeAs(version, user, meta("two"))]);

    const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBeInstanceOf(ServerError);
    expect(rejected[0]?.reason).toMatchObject({ name: "DigiMeServerError", error: { code: "InvalidToken" } });
    expect(bytesOf(sandbox, user.libraryId)).toHaveLength(1);
    expect(sandbox.counters).toMatchObject({ refreshes: 1, failedRefreshes: 1 });
  });

  it("fails the write with InvalidToken once the refresh tokens are expired", async () => {
    const { sandbox, advance } = timedSandbox();
    const user = await onboard(sandbox, version);
    sandbox.expireRefreshTokens({ libraryId: user.libraryId });
    // A live access token still writes: expiring refresh tokens alone changes nothing yet.
    await writeAs(version, user, meta("still fine"));
    advance(3601);

    const failure = writeAs(version, user, meta("too late"));

    await expect(failure).rejects.toMatchObject({ name: "DigiMeServerError", error: { code: "InvalidToken" } });
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["still fine"]);
  });

  it("expireAccessTokens forces a refresh on the next write", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    sandbox.expireAccessTokens();
    await writeAs(version, user, meta("x"));
    expect(sandbox.counters.refreshes).toBe(1);
  });

  it("links a second contract to the same library when given the user's token", async () => {
    const sandbox = createSandbox();
    const first = await onboard(sandbox, version);
    const readContract = sandbox.addContract();

    const second = await onboard(sandbox, version, { contract: readContract, userAccessToken: first.token });

    expect(second.libraryId).toBe(first.libraryId);
    expect(sandbox.libraries()).toHaveLength(1);
    expect(sandbox.latestToken(first.libraryId, readContract.contractId)?.accessToken.value).toBe(second.token.accessToken.value);
    await writeAs(version, second, meta("via second contract"));
    expect(sandbox.library(first.libraryId)?.files[0]?.contractId).toBe(readContract.contractId);
  });

  it("validates arguments like the SDK (TypeValidationError, nothing sent)", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    const bad = { ...meta("x"), fileData: "not a buffer" as unknown as Buffer };
    await expect(writeAs(version, user, bad)).rejects.toBeInstanceOf(TypeValidationError);
    await expect(writeAs(version, user, bad)).rejects.toMatchObject({ name: "TypeValidationError" });
    await expect(user.sdk.exchangeCodeForToken({ contractDetails: user.contractDetails, authorizationCode: "", codeVerifier: "v" })).rejects.toBeInstanceOf(
      TypeValidationError,
    );
    expect(sandbox.counters.writeAttempts).toBe(0);
  });
});

describe("generation-specific behaviour", () => {
  it("8.x requires contractDetails.redirectUri; 10.x and 16.x require state", async () => {
    const sandbox = createSandbox();
    const withoutState = { contractDetails: { ...sandbox.contractDetails, redirectUri: REDIRECT }, callback: CALLBACK } as unknown as Parameters<
      SdkGenerationA["getAuthorizeUrl"]
    >[0];
    await expect(sandbox.sdk("v8").getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: CALLBACK, state: "s" })).rejects.toBeInstanceOf(
      TypeValidationError,
    );
    await expect(sandbox.sdk("v8").getAuthorizeUrl(withoutState)).resolves.toMatchObject({ codeVerifier: expect.any(String) });
    await expect(sandbox.sdk("v10").getAuthorizeUrl(withoutState)).rejects.toBeInstanceOf(TypeValidationError);
    await expect(sandbox.sdk("v16").getAuthorizeUrl(withoutState)).rejects.toBeInstanceOf(TypeValidationError);
  });

  it("8.x without state leaves state out of the redirect; 16.x adds sourceType and service", async () => {
    const sandbox = createSandbox();
    const v8 = await sandbox
      .sdk("v8")
      .getAuthorizeUrl({ contractDetails: { ...sandbox.contractDetails, redirectUri: REDIRECT }, callback: CALLBACK } as unknown as Parameters<
        SdkGenerationA["getAuthorizeUrl"]
      >[0]);
    expect(new URL(await sandbox.consent(v8.url)).searchParams.has("state")).toBe(false);

    const v16 = await sandbox.sdk("v16").getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: CALLBACK, state: "s", serviceId: 420 });
    const url = new URL(v16.url);
    expect(url.searchParams.get("sourceType")).toBe("pull");
    expect(url.searchParams.get("service")).toBe("420");
    expect(v16.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(v16.session).toMatchObject({ key: expect.any(String), expiry: expect.any(Number) });
    expect(new URL(await sandbox.consent(v16.url)).searchParams.get("accountReference")).toMatch(/^account-/);
  });

  it("consent throws for a URL the sandbox did not make", async () => {
    const sandbox = createSandbox();
    await expect(sandbox.consent("https://sandbox.digi.me.invalid/apps/saas/authorize?code=nope")).rejects.toThrow(/unknown pre-authorization code/);
    await expect(sandbox.consent("not a url")).rejects.toThrow(/absolute URL/);
  });

  it("consent can place the user into a chosen library", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16", { consent: { libraryId: "library-fixed" } });
    expect(user.libraryId).toBe("library-fixed");
    expect(user.token.user?.id).toBe("library-fixed");
  });

  it("16.x refreshToken rotates the pair; a used refresh token fails with InvalidToken", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    const sdk = sandbox.sdk("v16");

    const fresh = await sdk.refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token });
    expect(fresh.accessToken.value).not.toBe(user.token.accessToken.value);
    expect(fresh).toEqual(sandbox.latestToken(user.libraryId));

    const reuse = sdk.refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token });
    await expect(reuse).rejects.toBeInstanceOf(ServerError);
    await expect(reuse).rejects.toMatchObject({
      name: "DigiMeServerError",
      error: { code: "InvalidToken", statusCode: 401, statusMessage: "Unauthorized", reference: expect.any(String) },
    });
    // The old access token stays valid until its own expiry.
    await sdk.pushData({ type: "library", contractDetails: user.contractDetails, userAccessToken: user.token, data: meta("old token") });
    expect(sandbox.counters).toMatchObject({ refreshes: 1, failedRefreshes: 1, deliveries: 1 });
  });

  it("an expired refresh token fails the same way", async () => {
    const { sandbox, advance } = timedSandbox({ refreshTokenLifetimeSeconds: 7200 });
    const user = await onboard(sandbox, "v16");
    advance(7200);
    await expect(sandbox.sdk("v16").refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token })).rejects.toMatchObject({
      error: { code: "InvalidToken" },
    });
  });

  it("a stream is consumed by the first attempt, so the SDK's retry after a refresh sends nothing", async () => {
    const { sandbox, advance } = timedSandbox();
    const user = await onboard(sandbox, "v16");
    advance(3601);
    await writeAs("v16", user, meta(Readable.from([Buffer.from("lost")])));
    expect(bytesOf(sandbox, user.libraryId)).toEqual([""]);
  });

  it("10.x does not refresh on a 401 with a JSON body (it becomes a ServerError first)", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v10");
    sandbox.faults.add({ status: 401, errorCode: "InvalidToken", times: 1 });
    await expect(writeAs("v10", user, meta("x"))).rejects.toMatchObject({ name: "DigiMeServerError", error: { code: "InvalidToken" } });
    expect(sandbox.counters.refreshes).toBe(0);
  });

  it("16.x refreshes on any 401 and loses the new token when the retry fails too", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ status: 401, errorCode: "InvalidToken", times: 2 });
    const onAccessTokenChange = vi.fn();
    const failure = writeAs("v16", user, meta("x"), user.token, onAccessTokenChange);
    // The retry's error is got's raw HTTPError: 16.x does not pass it through handleServerResponse.
    await expect(failure).rejects.toBeInstanceOf(HTTPError);
    expect(onAccessTokenChange).not.toHaveBeenCalled();
    expect(sandbox.counters.refreshes).toBe(1);
  });

  it("8.x streamed writes reject with raw values, as its https.request path does", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v8");
    sandbox.faults.add({ status: 500, errorCode: "InternalError", times: 1 });
    const failure = writeAs("v8", user, meta(Readable.from([Buffer.from("x")])));
    await expect(failure).rejects.toEqual({ error: expect.objectContaining({ code: "InternalError" }) });
    sandbox.faults.add({ network: "ECONNREFUSED", times: 1 });
    await expect(writeAs("v8", user, meta(Readable.from([Buffer.from("x")])))).rejects.toMatchObject({ name: "Error", code: "ECONNREFUSED" });
  });

  it("8.x checks the postbox id and public key", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v8");
    const other = await onboard(sandbox, "v8");
    await expect(writeAs("v8", { ...user, postboxId: "postbox-unknown" }, meta("x"))).rejects.toMatchObject({ error: { code: "NotFound" } });
    await expect(writeAs("v8", { ...user, publicKey: other.publicKey }, meta("x"))).rejects.toMatchObject({ error: { code: "InvalidRequest" } });
    await expect(writeAs("v8", { ...user, publicKey: "garbage" }, meta("x"))).rejects.toThrow(/public key/);
  });
});

describe("fault rules", () => {
  it("a status with Retry-After surfaces as got's HTTPError with the header", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    const rule = sandbox.faults.add({ status: 503, retryAfterSeconds: 7, times: 1 });

    const failure = writeAs("v16", user, meta("x"));

    await expect(failure).rejects.toBeInstanceOf(HTTPError);
    await expect(failure).rejects.toMatchObject({
      name: "HTTPError",
      code: "ERR_NON_2XX_3XX_RESPONSE",
      message: "Response code 503 (Service Unavailable)",
      response: { statusCode: 503, statusMessage: "Service Unavailable", headers: { "retry-after": "7" } },
    });
    expect(rule.hits).toBe(1);
    expect(sandbox.counters).toMatchObject({ faultsInjected: 1, writeAttempts: 1, deliveries: 0 });
    await writeAs("v16", user, meta("second try"));
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["second try"]);
  });

  it.each(["v8", "v10"] as const)("%s: an errorCode becomes a ServerError carrying the body's error as-is", async (version) => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    sandbox.faults.add({ status: 429, errorCode: "TooManyRequests", retryAfterSeconds: 3, times: 1 });
    const failure = writeAs(version, user, meta("x"));
    await expect(failure).rejects.toBeInstanceOf(ServerError);
    const error = (await failure.catch((e: unknown) => e)) as ServerError;
    expect(error.error).toEqual({ code: "TooManyRequests", message: expect.any(String), reference: expect.any(String) });
    expect(error).not.toHaveProperty("response");
  });

  it("16.x ServerError adds statusCode and statusMessage", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ status: 429, errorCode: "TooManyRequests", times: 1 });
    await expect(writeAs("v16", user, meta("x"))).rejects.toMatchObject({
      name: "DigiMeServerError",
      error: { code: "TooManyRequests", statusCode: 429, statusMessage: "Too Many Requests" },
    });
  });

  it.each(["v8", "v10", "v16"] as const)("%s: a network fault is a RequestError and stores nothing", async (version) => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, version);
    sandbox.faults.add({ network: "ECONNRESET", times: 1 });
    const failure = writeAs(version, user, meta("x"));
    await expect(failure).rejects.toBeInstanceOf(RequestError);
    await expect(failure).rejects.toMatchObject({ name: "RequestError", code: "ECONNRESET" });
    expect(sandbox.library(user.libraryId)?.files).toHaveLength(0);
  });

  it("afterAccept stores the file, loses the reply, and a retry duplicates it", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ network: "ETIMEDOUT", afterAccept: true, times: 1 });

    await expect(writeAs("v16", user, meta("once"))).rejects.toMatchObject({ name: "RequestError", code: "ETIMEDOUT" });
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["once"]);
    await writeAs("v16", user, meta("once"));
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["once", "once"]);
    expect(sandbox.counters.deliveries).toBe(2);
  });

  it("afterAccept on a refresh rotates the pair but the new one never arrives", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ operation: "refresh", network: "ECONNRESET", afterAccept: true, times: 1 });
    const sdk = sandbox.sdk("v16");
    await expect(sdk.refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token })).rejects.toMatchObject({ code: "ECONNRESET" });
    await expect(sdk.refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token })).rejects.toMatchObject({
      error: { code: "InvalidToken" },
    });
  });

  it("times limits a rule to the next N matching calls", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v10");
    const rule = sandbox.faults.add({ status: 502, times: 2 });
    await expect(writeAs("v10", user, meta("1"))).rejects.toMatchObject({ name: "HTTPError" });
    await expect(writeAs("v10", user, meta("2"))).rejects.toMatchObject({ name: "HTTPError" });
    await writeAs("v10", user, meta("3"));
    expect(rule.hits).toBe(2);
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["3"]);
  });

  it("probability draws from the seeded PRNG: the same seed replays the same outcomes", async () => {
    async function run(seed: number): Promise<string[]> {
      const sandbox = createSandbox({ seed });
      const user = await onboard(sandbox, "v16");
      sandbox.faults.add({ status: 503, probability: 0.5 });
      const outcomes: string[] = [];
      for (let i = 0; i < 24; i += 1) {
        outcomes.push(await writeAs("v16", user, meta(String(i))).then(() => "ok", () => "fail"));
      }
      return outcomes;
    }
    const first = await run(1234);
    expect(await run(1234)).toEqual(first);
    expect(first).toContain("ok");
    expect(first).toContain("fail");
  });

  it("operation and libraryId narrow what a rule hits; the write's inner refresh is a refresh", async () => {
    const { sandbox, advance } = timedSandbox();
    const alice = await onboard(sandbox, "v16");
    const bob = await onboard(sandbox, "v16");
    sandbox.faults.add({ operation: "refresh", libraryId: alice.libraryId, status: 503 });
    advance(3601);

    await expect(writeAs("v16", alice, meta("a"))).rejects.toMatchObject({ name: "HTTPError", response: { statusCode: 503 } });
    await writeAs("v16", bob, meta("b"));
    expect(bytesOf(sandbox, alice.libraryId)).toEqual([]);
    expect(bytesOf(sandbox, bob.libraryId)).toEqual(["b"]);
    expect(sandbox.counters).toMatchObject({ refreshes: 1, failedRefreshes: 1, faultsInjected: 1 });
  });

  it("faults can hit authorize and exchange", async () => {
    const sandbox = createSandbox();
    sandbox.faults.add({ operation: "authorize", status: 500, errorCode: "InternalError", times: 1 });
    await expect(onboard(sandbox, "v16")).rejects.toMatchObject({ error: { code: "InternalError" } });
    sandbox.faults.add({ operation: "exchange", network: "EAI_AGAIN", times: 1 });
    await expect(onboard(sandbox, "v16")).rejects.toMatchObject({ name: "RequestError", code: "EAI_AGAIN" });
    await expect(onboard(sandbox, "v16")).resolves.toMatchObject({ libraryId: expect.any(String) });
  });

  it("latency alone delays the call without failing it", async () => {
    vi.useFakeTimers();
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ latencyMs: 1000, times: 1 });
    let settled = false;
    const write = writeAs("v16", user, meta("slow")).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await write;
    expect(settled).toBe(true);
    expect(sandbox.counters.faultsInjected).toBe(0);
  });

  it("remove() and clear() stop rules; invalid rules are refused", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.faults.add({ status: 500 }).remove();
    sandbox.faults.add({ status: 500 });
    sandbox.faults.clear();
    await writeAs("v16", user, meta("fine"));
    expect(() => sandbox.faults.add({ probability: 2 })).toThrow(RangeError);
    expect(() => sandbox.faults.add({ status: 200 })).toThrow(RangeError);
  });
});

describe("pause, counters, secrecy", () => {
  it("pause holds every SDK call until resume", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    sandbox.pause();
    let settled = false;
    const write = writeAs("v16", user, meta("held")).then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    expect(sandbox.counters.writeAttempts).toBe(0);
    sandbox.resume();
    await write;
    expect(bytesOf(sandbox, user.libraryId)).toEqual(["held"]);
  });

  it("counters are a live view that resetCounters zeroes", async () => {
    const sandbox = createSandbox();
    const view = sandbox.counters;
    await onboard(sandbox, "v16");
    expect(view.exchanges).toBe(1);
    sandbox.resetCounters();
    expect(view).toEqual({ authorizeUrls: 0, exchanges: 0, refreshes: 0, failedRefreshes: 0, writeAttempts: 0, deliveries: 0, faultsInjected: 0 });
  });

  it("never shows token values or keys in inspect output or error messages", async () => {
    const sandbox = createSandbox();
    const user = await onboard(sandbox, "v16");
    await sandbox.sdk("v16").refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token });
    const reuse = await sandbox
      .sdk("v16")
      .refreshToken({ contractDetails: user.contractDetails, userAccessToken: user.token })
      .catch((error: unknown) => error as Error);

    const printed = [inspect(sandbox, { depth: 10 }), JSON.stringify(sandbox), inspect(reuse, { depth: 10 }), String(reuse)].join("\n");
    for (const secret of [user.token.accessToken.value, user.token.refreshToken.value, sandbox.contractDetails.privateKey]) {
      expect(printed).not.toContain(secret);
    }
    expect(inspect(sandbox)).toMatch(/Sandbox .*libraries: 1/s);
  });

  it("the fakes satisfy the library's SDK types without casts", () => {
    const sandbox = createSandbox();
    const a: SdkGenerationA = sandbox.sdk("v8");
    const b: SdkGenerationB = sandbox.sdk("v10");
    const c: SdkGenerationC = sandbox.sdk("v16");
    const any: DigimeSdk = sandbox.sdk("v16");
    expect([a, b, c, any].every((sdk) => typeof sdk.getAuthorizeUrl === "function")).toBe(true);
    expect(typeof sandbox.sdk("v16").refreshToken).toBe("function");
  });
});
