/**
 * Fault injection at the HTTP level: the sandbox's fault rules (status with
 * Retry-After, dropped connections, latency; per endpoint, per user, by
 * count or probability) apply to requests over msw and the loopback server,
 * and the endpoint selector works for the in-process fakes too.
 */
import { setupServer, type SetupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSandbox, HTTPError, type Sandbox } from "../../src/testing/index.js";
import { call, pkcePair, postSigned, signDescriptor, signRequest, verifyServerToken, type Signer } from "./sandbox-http-wire-client.js";

const CALLBACK = "https://app.example/digime/callback";
const DESCRIPTOR = { mimeType: "text/plain", accounts: [{ accountId: "a" }] };

describe.each(["msw", "listen"] as const)("HTTP faults over %s", (transport) => {
  let sandbox: Sandbox;
  let mswServer: SetupServer | undefined;
  let baseUrl: string;
  const signer = (): Signer => ({ applicationId: sandbox.applicationId, ...sandbox.contractDetails });
  const url = (path: string) => `${baseUrl}${path}`;

  beforeAll(async () => {
    sandbox = createSandbox({ seed: 3 });
    if (transport === "msw") {
      mswServer = setupServer(...sandbox.handlers());
      mswServer.listen({ onUnhandledFrame: "error" });
    } else {
      await sandbox.listen();
    }
    baseUrl = sandbox.baseUrl;
  });
  afterAll(async () => {
    mswServer?.close();
    await sandbox.close();
  });
  afterEach(() => {
    sandbox.faults.clear();
    sandbox.resume();
  });

  /** A user onboarded over HTTP; returns its library and access token. */
  async function user(): Promise<{ libraryId: string; accessToken: string }> {
    const pkce = pkcePair();
    const jwt = await signRequest(signer(), { code_challenge: pkce.challenge, code_challenge_method: "S256", redirect_uri: CALLBACK, response_type: "code", state: "s" });
    const authorized = await postSigned(url("oauth/authorize"), jwt, JSON.stringify({ agent: { sdk: { version: "16.1.5" } } }));
    const { payload } = await verifyServerToken(authorized.json.token);
    const code = new URL(await sandbox.consent(`${sandbox.onboardUrl}authorize?code=${String(payload.preauthorization_code)}`)).searchParams.get("code");
    const exchanged = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier }));
    const grant = (await verifyServerToken(exchanged.json.token)).payload as { sub: string; access_token: { value: string } };
    return { libraryId: grant.sub, accessToken: grant.access_token.value };
  }

  async function importFile(accessToken: string, text = "x") {
    return call(url("permission-access/import"), {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signRequest(signer(), { access_token: accessToken })}`,
        filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, DESCRIPTOR),
      },
      body: text,
    });
  }

  it("answers an injected status with Retry-After, empty or with a digi.me error body", async () => {
    const { accessToken, libraryId } = await user();
    sandbox.faults.add({ endpoint: "import", status: 503, retryAfterSeconds: 7, times: 1 });
    const bare = await importFile(accessToken);
    expect(bare.status).toBe(503);
    expect(bare.headers.get("retry-after")).toBe("7");
    expect(bare.text).toBe("");
    sandbox.faults.add({ endpoint: "import", status: 429, errorCode: "TooManyRequests", retryAfterSeconds: 1, times: 1 });
    const coded = await importFile(accessToken);
    expect(coded.status).toBe(429);
    expect(coded.json.error.code).toBe("TooManyRequests");
    expect((await importFile(accessToken)).status).toBe(200);
    expect(sandbox.library(libraryId)?.files).toHaveLength(1);
  });

  it("drops the connection for a network fault", async () => {
    const { accessToken, libraryId } = await user();
    const before = sandbox.counters.faultsInjected;
    sandbox.faults.add({ endpoint: "import", network: "ECONNRESET", times: 1 });
    const failure = await importFile(accessToken).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TypeError); // fetch: "fetch failed" / "Failed to fetch"
    expect(sandbox.counters.faultsInjected).toBe(before + 1);
    expect(sandbox.library(libraryId)?.files).toEqual([]);
  });

  it("stores the file and then fails the reply with afterAccept", async () => {
    const { accessToken, libraryId } = await user();
    sandbox.faults.add({ endpoint: "import", status: 502, afterAccept: true, times: 1 });
    expect((await importFile(accessToken)).status).toBe(502);
    expect(sandbox.library(libraryId)?.files).toHaveLength(1);
  });

  it("adds latency before the request is served", async () => {
    const { accessToken } = await user();
    sandbox.faults.add({ endpoint: "import", latencyMs: 120, times: 1 });
    const started = performance.now();
    expect((await importFile(accessToken)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it("targets one user by libraryId", async () => {
    const alice = await user();
    const bob = await user();
    sandbox.faults.add({ endpoint: "import", libraryId: alice.libraryId, status: 500 });
    expect((await importFile(alice.accessToken)).status).toBe(500);
    expect((await importFile(bob.accessToken)).status).toBe(200);
  });

  it("targets the token endpoint and leaves the others alone", async () => {
    const { accessToken } = await user();
    const rule = sandbox.faults.add({ endpoint: "token", status: 503, times: 2 });
    const refresh = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "refresh_token", refresh_token: "r" }));
    expect(refresh.status).toBe(503);
    expect((await importFile(accessToken)).status).toBe(200);
    expect(rule.hits).toBe(1);
  });

  it("fails the JWKS fetch only for rules that name the jwks endpoint", async () => {
    sandbox.faults.add({ operation: "any", status: 500 });
    expect((await call(url("jwks/oauth"))).status).toBe(200);
    sandbox.faults.clear();
    sandbox.faults.add({ endpoint: "jwks", status: 500, times: 1 });
    expect((await call(url("jwks/oauth"))).status).toBe(500);
    expect((await call(url("jwks/oauth"))).status).toBe(200);
  });

  it("hits by probability, reproducibly from the seed", async () => {
    const { accessToken } = await user();
    const rule = sandbox.faults.add({ endpoint: "import", status: 503, probability: 0.5 });
    const statuses: number[] = [];
    for (let index = 0; index < 16; index += 1) statuses.push((await importFile(accessToken)).status);
    const failed = statuses.filter((status) => status === 503).length;
    expect(failed).toBe(rule.hits);
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(16);
  });

  it("holds requests while paused and serves them on resume", async () => {
    const { accessToken, libraryId } = await user();
    sandbox.pause();
    const pending = importFile(accessToken);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sandbox.library(libraryId)?.files).toEqual([]);
    sandbox.resume();
    expect((await pending).status).toBe(200);
    expect(sandbox.library(libraryId)?.files).toHaveLength(1);
  });
});

describe("the endpoint selector with the in-process fakes", () => {
  it("hits the token endpoint of SDK 16.x's refreshToken and not its pushes", async () => {
    const sandbox = createSandbox();
    const sdk = sandbox.sdk("v16");
    const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: CALLBACK, state: "s" });
    const authorizationCode = new URL(await sandbox.consent(url)).searchParams.get("code") ?? "";
    const token = await sdk.exchangeCodeForToken({ contractDetails: sandbox.contractDetails, authorizationCode, codeVerifier });
    sandbox.faults.add({ endpoint: "token", status: 503, times: 1 });
    sandbox.faults.add({ endpoint: "postbox", status: 500 });
    const data = { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: DESCRIPTOR };
    await sdk.pushData({ type: "library", contractDetails: sandbox.contractDetails, userAccessToken: token, data });
    await expect(sdk.refreshToken({ contractDetails: sandbox.contractDetails, userAccessToken: token })).rejects.toBeInstanceOf(HTTPError);
    expect(sandbox.counters.deliveries).toBe(1);
  });

  it("rejects an unknown endpoint", () => {
    const sandbox = createSandbox();
    expect(() => sandbox.faults.add({ endpoint: "users" as never, status: 500 })).toThrow(RangeError);
  });
});
