/**
 * The sandbox's HTTP front end against digi.me's wire protocol, driven with
 * requests built from the protocol alone (signed with jose in
 * sandbox-http-wire-client.ts), over both transports: msw (setupServer +
 * fetch) and the loopback server (fetch to 127.0.0.1).
 */
import { generateKeyPairSync } from "node:crypto";
import { inspect } from "node:util";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { setupServer, type SetupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { UserAccessToken } from "../../src/index.js";
import { signRequestJwt } from "../../src/sdk/wire/signing.js";
import { createTokenEndpoint } from "../../src/sdk/wire/token-endpoint.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import {
  alphanumeric,
  call,
  pkcePair,
  postSigned,
  sealForPostbox,
  signDescriptor,
  signRequest,
  verifyServerToken,
  type Signer,
  type WireAnswer,
} from "./sandbox-http-wire-client.js";

const CALLBACK = "https://app.example/digime/callback";
const DESCRIPTOR = { mimeType: "application/json", accounts: [{ accountId: "acc-1" }], tags: ["t"] };
const OTHER_KEY = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "pkcs1", format: "pem" } });
const SDK_VERSION = { A: "8.0.0", B: "10.1.1", C: "16.1.5" } as const;
type Generation = keyof typeof SDK_VERSION;

function expectApiError(answer: WireAnswer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({ status, code });
  expect(typeof answer.json.error.message).toBe("string");
}

describe.each(["msw", "listen"] as const)("wire protocol over %s", (transport) => {
  let offsetMs = 0;
  let sandbox: Sandbox;
  let mswServer: SetupServer | undefined;
  let baseUrl: string;
  let onboardUrl: string;
  const signer = (): Signer => ({ applicationId: sandbox.applicationId, ...sandbox.contractDetails });
  const url = (path: string) => `${baseUrl}${path}`;

  beforeAll(async () => {
    sandbox = createSandbox({ now: () => Date.now() + offsetMs, seed: 7 });
    if (transport === "msw") {
      mswServer = setupServer(...sandbox.handlers());
      mswServer.listen({ onUnhandledFrame: "error" });
    } else {
      await sandbox.listen({ port: 0 });
    }
    ({ baseUrl, onboardUrl } = sandbox);
  });
  afterAll(async () => {
    mswServer?.close();
    await sandbox.close();
  });
  afterEach(() => sandbox.faults.clear());

  /** POST oauth/authorize as SDK `version` would. */
  async function authorizeRequest(generation: Generation, claims: Record<string, unknown> = {}, body?: string) {
    const pkce = pkcePair();
    const jwt = await signRequest(signer(), {
      code_challenge: pkce.challenge,
      code_challenge_method: "S256",
      redirect_uri: CALLBACK,
      response_mode: "query",
      response_type: "code",
      state: "state-1",
      ...claims,
    });
    const agent = JSON.stringify({ agent: { sdk: { name: "nodejs", version: SDK_VERSION[generation], meta: { node: process.version } } } });
    return { pkce, answer: await postSigned(url("oauth/authorize"), jwt, body ?? agent) };
  }

  /** Authorize, consent on a URL built as that generation's SDK builds it, exchange. */
  async function onboard(generation: Generation, claims: Record<string, unknown> = {}) {
    const { pkce, answer } = await authorizeRequest(generation, claims);
    expect(answer.status).toBe(200);
    const { payload } = await verifyServerToken(answer.json.token);
    const consentUrl = new URL(`${onboardUrl}authorize`);
    consentUrl.searchParams.set("code", String(payload.preauthorization_code));
    if (generation === "A") consentUrl.searchParams.set("callback", CALLBACK);
    if (generation === "C") consentUrl.searchParams.set("sourceType", "pull");
    const callback = new URL(await sandbox.consent(consentUrl.href));
    const code = callback.searchParams.get("code") ?? "";
    const exchanged = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier }));
    expect(exchanged.status).toBe(200);
    const grant = (await verifyServerToken(exchanged.json.token)).payload as {
      access_token: { value: string; expires_on: number };
      refresh_token: { value: string; expires_on: number };
      sub: string;
      consentid: string;
    };
    return { grant, callback, code, pkce };
  }

  async function importFile(accessToken: string, bytes: Buffer | string, headers: Record<string, string> = {}, descriptor: unknown = DESCRIPTOR) {
    return call(url("permission-access/import"), {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signRequest(signer(), { access_token: accessToken })}`,
        "content-type": "application/octet-stream",
        filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, descriptor),
        ...headers,
      },
      body: bytes,
    });
  }

  async function postboxWrite(postboxId: string, publicKey: string, accessToken: string | undefined, bytes: Buffer, fileName = "note.json") {
    const sealed = sealForPostbox(publicKey, bytes, DESCRIPTOR);
    const form = new FormData();
    form.append("file", new Blob([sealed.cipherText]), fileName);
    const jwt = await signRequest(signer(), { ...(accessToken === undefined ? {} : { access_token: accessToken }), ...sealed.claims });
    return call(url(`permission-access/postbox/${encodeURIComponent(postboxId)}`), { method: "POST", headers: { authorization: `Bearer ${jwt}` }, body: form });
  }

  describe("the key set and the tokens", () => {
    it("serves a JWKS document whose entries carry kid, alg PS512 and pem", async () => {
      const jwks = await call(url("jwks/oauth"));
      expect(jwks.status).toBe(200);
      expect(jwks.json.keys).toHaveLength(1);
      expect(jwks.json.keys[0]).toMatchObject({ kty: "RSA", alg: "PS512", use: "sig", kid: expect.any(String), pem: expect.stringContaining("BEGIN PUBLIC KEY") });
    });

    it("signs every token as PS512 with jku (this transport's JWKS) and kid", async () => {
      const { answer } = await authorizeRequest("C");
      expect(answer.status).toBe(200);
      const { payload, jku } = await verifyServerToken(answer.json.token);
      expect(jku).toBe(url("jwks/oauth"));
      expect(decodeHeader(answer.json.token)).toMatchObject({ alg: "PS512" });
      expect(payload.preauthorization_code).toEqual(expect.any(String));
      expect(payload.iat).toBeUndefined();
      expect(answer.json.session).toEqual({ key: expect.any(String), expiry: expect.any(Number) });
    });
  });

  describe("authorization and token grants", () => {
    it("exchanges a consented code for a token pair in epoch seconds, with sub and consentid", async () => {
      const { grant } = await onboard("C");
      const nowSeconds = Math.floor(sandbox.now() / 1000);
      expect(grant.access_token.expires_on).toBeGreaterThan(nowSeconds);
      expect(grant.access_token.expires_on).toBeLessThan(nowSeconds + 2 * 3600);
      expect(grant.refresh_token.expires_on).toBeGreaterThan(grant.access_token.expires_on);
      expect(sandbox.library(grant.sub)).toBeDefined();
      expect(sandbox.latestToken(grant.sub)?.accessToken.value).toBe(grant.access_token.value);
      expect(grant.consentid).toEqual(expect.any(String));
    });

    it("links a new consent to the library of the access_token in the authorize request", async () => {
      const first = await onboard("C");
      const second = await onboard("C", { access_token: first.grant.access_token.value });
      expect(second.grant.sub).toBe(first.grant.sub);
    });

    it("gives generation A consents a postbox in the callback, and sends 8.x denials to the URL's callback", async () => {
      const { callback } = await onboard("A");
      expect(callback.searchParams.get("postboxId")).toEqual(expect.any(String));
      expect(callback.searchParams.get("publicKey")).toContain("BEGIN RSA PUBLIC KEY");
      const { answer } = await authorizeRequest("A", { redirect_uri: "https://app.example/success" });
      const code = String((await verifyServerToken(answer.json.token)).payload.preauthorization_code);
      const denied = new URL(await sandbox.consent(`${onboardUrl}authorize?code=${code}&callback=${encodeURIComponent("https://app.example/failure")}`, { approve: false }));
      expect(denied.origin + denied.pathname).toBe("https://app.example/failure");
      expect(denied.searchParams.get("errorCode")).toBe("UserCancelled");
    });

    it("approves on GET <onboardUrl>authorize with a redirect to the app", async () => {
      const { answer } = await authorizeRequest("C");
      const code = String((await verifyServerToken(answer.json.token)).payload.preauthorization_code);
      const page = await call(`${onboardUrl}authorize?code=${code}&sourceType=pull&service=12`);
      expect(page.status).toBe(302);
      const location = new URL(page.headers.get("location") ?? "");
      expect(location.searchParams.get("success")).toBe("true");
      expect(location.searchParams.get("accountReference")).toEqual(expect.any(String));
      expect((await call(`${onboardUrl}authorize?code=${code}`)).status).toBe(400); // used
    });

    it("rotates on a refresh_token grant and rejects the used refresh token", async () => {
      const { grant } = await onboard("C");
      const refresh = () => signRequest(signer(), { grant_type: "refresh_token", refresh_token: grant.refresh_token.value });
      const rotated = await postSigned(url("oauth/token"), await refresh());
      expect(rotated.status).toBe(200);
      const next = (await verifyServerToken(rotated.json.token)).payload as typeof grant;
      expect(next.access_token.value).not.toBe(grant.access_token.value);
      expect(next.sub).toBe(grant.sub);
      const reused = await postSigned(url("oauth/token"), await refresh());
      expectApiError(reused, 401, "InvalidToken");
      expect(reused.text).not.toContain(grant.refresh_token.value);
    });

    it("rejects a PKCE mismatch, and the code is burnt by the attempt", async () => {
      const { pkce, answer } = await authorizeRequest("C");
      const preauthorization = String((await verifyServerToken(answer.json.token)).payload.preauthorization_code);
      const code = new URL(await sandbox.consent(`${onboardUrl}authorize?code=${preauthorization}`)).searchParams.get("code") ?? "";
      const wrong = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkcePair().verifier }));
      expectApiError(wrong, 400, "InvalidCodeVerifier");
      const right = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier }));
      expectApiError(right, 400, "InvalidAuthorizationCode");
    });

    it("rejects a reused authorization code", async () => {
      const { code, pkce } = await onboard("C");
      const again = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier }));
      expectApiError(again, 400, "InvalidAuthorizationCode");
      expect(again.text).not.toContain(code);
    });

    it("rejects an expired authorization code and an expired refresh token", async () => {
      const { pkce, answer } = await authorizeRequest("C");
      const preauthorization = String((await verifyServerToken(answer.json.token)).payload.preauthorization_code);
      const code = new URL(await sandbox.consent(`${onboardUrl}authorize?code=${preauthorization}`)).searchParams.get("code") ?? "";
      const { grant } = await onboard("C");
      offsetMs += 11 * 60 * 1000; // codes live 10 minutes
      const late = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier }));
      expectApiError(late, 400, "InvalidAuthorizationCode");
      offsetMs += 31 * 24 * 3600 * 1000; // refresh tokens live 30 days
      const stale = await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "refresh_token", refresh_token: grant.refresh_token.value }));
      expectApiError(stale, 401, "InvalidToken");
    });

    it("rejects an unknown grant_type and malformed grants", async () => {
      expectApiError(await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "password" })), 400, "InvalidRequest");
      expectApiError(await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code: 42 })), 400, "InvalidRequest");
      expectApiError(await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "refresh_token" })), 400, "InvalidRequest");
    });

    it("rejects a plain code challenge, a missing redirect_uri and malformed JSON", async () => {
      expectApiError((await authorizeRequest("C", { code_challenge_method: "plain" })).answer, 400, "InvalidRequest");
      expectApiError((await authorizeRequest("C", { redirect_uri: undefined })).answer, 400, "InvalidRequest");
      expectApiError((await authorizeRequest("C", { redirect_uri: "not a url" })).answer, 400, "InvalidRedirectUri");
      expectApiError((await authorizeRequest("C", {}, "{ not json")).answer, 400, "InvalidRequest");
      expectApiError((await authorizeRequest("C", { access_token: "unknown-token" })).answer, 401, "InvalidToken");
    });
  });

  describe("the library's own refresh request (option digimeApi)", () => {
    const endpoint = () => createTokenEndpoint({ applicationId: sandbox.applicationId, baseUrl, timeoutMs: 10_000, now: sandbox.now });
    const asToken = (grant: { access_token: { value: string; expires_on: number }; refresh_token: { value: string; expires_on: number } }): UserAccessToken => ({
      accessToken: { value: grant.access_token.value, expiry: grant.access_token.expires_on },
      refreshToken: { value: grant.refresh_token.value, expiry: grant.refresh_token.expires_on },
    });

    it.each(["A", "B", "C"] as const)("is accepted for a generation %s consent: the pair rotates, and the answer verifies", async (generation) => {
      const { grant } = await onboard(generation);
      const next = await endpoint().refresh(sandbox.contractDetails, asToken(grant));
      expect(next.refreshToken.value).not.toBe(grant.refresh_token.value);
      expect(next).toMatchObject({ user: { id: grant.sub }, consentid: grant.consentid });
      // The rotated pair is the one the sandbox holds: the next refresh with it is accepted too.
      await expect(endpoint().refresh(sandbox.contractDetails, next)).resolves.toHaveProperty("accessToken.value");
    });

    it("fails with digi.me's 401 InvalidToken for a spent or expired refresh token, quoting neither", async () => {
      const { grant } = await onboard("C");
      await endpoint().refresh(sandbox.contractDetails, asToken(grant));
      const spent = await endpoint().refresh(sandbox.contractDetails, asToken(grant)).catch((e: unknown) => e as Error);
      expect(spent).toMatchObject({ name: "HTTPError", response: { statusCode: 401 }, error: { code: "InvalidToken" } });
      expect(inspect(spent)).not.toContain(grant.refresh_token.value);
      const { grant: other } = await onboard("C");
      offsetMs += 31 * 24 * 3600 * 1000; // refresh tokens live 30 days
      await expect(endpoint().refresh(sandbox.contractDetails, asToken(other))).rejects.toMatchObject({ response: { statusCode: 401 }, error: { code: "InvalidToken" } });
    });

    it("is refused when signed for another contract's key or application, as the protocol demands", async () => {
      const { grant } = await onboard("C");
      const wrongKey = { contractId: sandbox.contractDetails.contractId, privateKey: OTHER_KEY.privateKey };
      await expect(endpoint().refresh(wrongKey, asToken(grant))).rejects.toMatchObject({ response: { statusCode: 403 }, error: { code: "InvalidClient" } });
      const otherApp = createTokenEndpoint({ applicationId: "another-app", baseUrl, timeoutMs: 10_000, now: sandbox.now });
      await expect(otherApp.refresh(sandbox.contractDetails, asToken(grant))).rejects.toMatchObject({ error: { code: "InvalidClient" } });
    });

    it("signs the same claims, under the same header, as the independent wire client", async () => {
      const claims = { grant_type: "refresh_token", refresh_token: "r".repeat(40) };
      const library = await signRequestJwt({ applicationId: sandbox.applicationId, ...sandbox.contractDetails }, claims);
      const independent = await signRequest(signer(), claims);
      expect(decodeProtectedHeader(library)).toEqual(decodeProtectedHeader(independent));
      const [a, b] = [decodeJwt(library), decodeJwt(independent)];
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      expect({ ...a, nonce: undefined, timestamp: undefined }).toEqual({ ...b, nonce: undefined, timestamp: undefined });
      expect(String(a.nonce)).toMatch(/^[A-Za-z0-9]{32}$/);
    });
  });

  describe("request signatures", () => {
    const tokenCall = (options: Parameters<typeof signRequest>[2]) =>
      signRequest(signer(), { grant_type: "refresh_token", refresh_token: "whatever" }, options).then((jwt) => postSigned(url("oauth/token"), jwt));

    it("rejects a request signed with another key", async () => {
      const answer = await tokenCall({ signWith: OTHER_KEY.privateKey });
      expectApiError(answer, 403, "InvalidClient");
    });

    it("rejects a client_id of another application, of an unknown contract, or missing", async () => {
      expectApiError(await tokenCall({ clientId: `other-app_${sandbox.contractDetails.contractId}` }), 403, "InvalidClient");
      expectApiError(await tokenCall({ clientId: `${sandbox.applicationId}_contract-unknown` }), 403, "InvalidClient");
      expectApiError(await tokenCall({ clientId: sandbox.contractDetails.contractId }), 403, "InvalidClient");
      expectApiError(await tokenCall({ omit: ["client_id"] }), 403, "InvalidClient");
    });

    it("accepts a second contract of the application with its own key", async () => {
      const contract = sandbox.addContract();
      const jwt = await signRequest({ applicationId: sandbox.applicationId, ...contract }, { grant_type: "refresh_token", refresh_token: "unknown" });
      expectApiError(await postSigned(url("oauth/token"), jwt), 401, "InvalidToken"); // past the signature checks
    });

    it("rejects a missing, malformed or replayed nonce", async () => {
      expectApiError(await tokenCall({ omit: ["nonce"] }), 400, "InvalidRequest");
      expectApiError(await tokenCall({ nonce: "short" }), 400, "InvalidRequest");
      expectApiError(await tokenCall({ nonce: `${alphanumeric(31)}!` }), 400, "InvalidRequest");
      const nonce = alphanumeric(32);
      expectApiError(await tokenCall({ nonce }), 401, "InvalidToken");
      const replay = await tokenCall({ nonce });
      expectApiError(replay, 400, "InvalidRequest");
      expect(replay.json.error.message).toMatch(/nonce/);
    });

    it("rejects a missing, old, future or non-numeric timestamp", async () => {
      expectApiError(await tokenCall({ omit: ["timestamp"] }), 400, "InvalidRequest");
      expectApiError(await tokenCall({ timestamp: Date.now() - 10 * 60 * 1000 }), 400, "InvalidRequest");
      expectApiError(await tokenCall({ timestamp: Date.now() + 10 * 60 * 1000 }), 400, "InvalidRequest");
      expectApiError(await tokenCall({ timestamp: String(Date.now()) }), 400, "InvalidRequest");
    });

    it("rejects a missing Authorization header, a non-JWT and other algorithms", async () => {
      expectApiError(await postSigned(url("oauth/token"), undefined), 400, "InvalidRequest");
      expectApiError(await postSigned(url("oauth/token"), "not-a-jwt"), 400, "InvalidRequest");
      const rs512 = await new (await import("jose")).SignJWT({ grant_type: "refresh_token", refresh_token: "x" })
        .setProtectedHeader({ alg: "RS512" })
        .sign((await import("node:crypto")).createPrivateKey(sandbox.contractDetails.privateKey));
      expectApiError(await postSigned(url("oauth/token"), rs512), 400, "InvalidRequest");
      const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"grant_type":"refresh_token"}').toString("base64url")}.x`;
      expectApiError(await postSigned(url("oauth/token"), none), 400, "InvalidRequest");
    });
  });

  describe("generation B and C: permission-access/import", () => {
    it.each(["B", "C"] as const)("stores raw bytes with the signed descriptor (generation %s)", async (generation) => {
      const { grant } = await onboard(generation);
      const before = sandbox.counters.deliveries;
      const answer = await importFile(grant.access_token.value, Buffer.from("raw bytes"));
      expect(answer.status).toBe(200);
      const [file] = sandbox.library(grant.sub)?.files ?? [];
      expect(file).toMatchObject({ generation, fileName: "", fileDescriptor: DESCRIPTOR, size: 9 });
      expect(file?.bytes.toString()).toBe("raw bytes");
      expect(sandbox.counters.deliveries).toBe(before + 1);
    });

    it("accepts a request without Content-Type, as SDK 10.x sends it", async () => {
      const { grant } = await onboard("B");
      const answer = await call(url("permission-access/import"), {
        method: "POST",
        headers: {
          authorization: `Bearer ${await signRequest(signer(), { access_token: grant.access_token.value })}`,
          filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, DESCRIPTOR),
          contentType: "application/octet-stream",
        },
        body: new Uint8Array([1, 2, 3]),
      });
      expect(answer.status).toBe(200);
      expect(sandbox.library(grant.sub)?.files[0]?.bytes).toEqual(Buffer.from([1, 2, 3]));
    });

    it("answers a bare 401 for an expired or revoked access token, and stores nothing", async () => {
      const { grant } = await onboard("C");
      sandbox.expireAccessTokens({ libraryId: grant.sub });
      const answer = await importFile(grant.access_token.value, "x");
      expect(answer.status).toBe(401);
      expect(answer.text).toBe("");
      const fresh = await onboard("C");
      offsetMs += 2 * 3600 * 1000; // past the access token lifetime
      expect((await importFile(fresh.grant.access_token.value, "x")).status).toBe(401);
      expect(sandbox.library(grant.sub)?.files).toEqual([]);
    });

    it("rejects a missing, unsigned, foreign-signed or malformed FileDescriptor", async () => {
      const { grant } = await onboard("C");
      const token = grant.access_token.value;
      expectApiError(await importFile(token, "x", { filedescriptor: "" }), 400, "InvalidRequest");
      expectApiError(await importFile(token, "x", { filedescriptor: "garbage" }), 400, "InvalidRequest");
      expectApiError(await importFile(token, "x", { filedescriptor: await signDescriptor(OTHER_KEY.privateKey, DESCRIPTOR) }), 400, "InvalidRequest");
      expectApiError(await importFile(token, "x", {}, { mimeType: 5 }), 400, "InvalidRequest");
      expectApiError(await importFile(token, "x", {}, "not an object"), 400, "InvalidRequest");
      expect(sandbox.library(grant.sub)?.files).toEqual([]);
    });

    it("rejects an import without access_token", async () => {
      const answer = await call(url("permission-access/import"), {
        method: "POST",
        headers: { authorization: `Bearer ${await signRequest(signer(), {})}`, filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, DESCRIPTOR) },
        body: "x",
      });
      expectApiError(answer, 400, "InvalidRequest");
    });
  });

  describe("generation A: permission-access/postbox", () => {
    async function onboardA() {
      const { grant, callback } = await onboard("A");
      return { grant, postboxId: callback.searchParams.get("postboxId") ?? "", publicKey: callback.searchParams.get("publicKey") ?? "" };
    }

    it("decrypts the key with the postbox key (RSA-OAEP SHA-1), then the file and descriptor, and stores them", async () => {
      const { grant, postboxId, publicKey } = await onboardA();
      const answer = await postboxWrite(postboxId, publicKey, grant.access_token.value, Buffer.from("secret bytes"), "note.json");
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ status: "delivered", expires: grant.access_token.expires_on });
      const [file] = sandbox.library(grant.sub)?.files ?? [];
      expect(file).toMatchObject({ generation: "A", fileName: "note.json", fileDescriptor: DESCRIPTOR });
      expect(file?.bytes.toString()).toBe("secret bytes");
    });

    it("answers pending and stores nothing for a stale or missing access token", async () => {
      const { grant, postboxId, publicKey } = await onboardA();
      sandbox.expireAccessTokens({ libraryId: grant.sub });
      expect((await postboxWrite(postboxId, publicKey, grant.access_token.value, Buffer.from("x"))).json).toEqual({ status: "pending", expires: 0 });
      expect((await postboxWrite(postboxId, publicKey, undefined, Buffer.from("x"))).json).toEqual({ status: "pending", expires: 0 });
      expect(sandbox.library(grant.sub)?.files).toEqual([]);
    });

    it("rejects an unknown postbox, a key for another postbox, and another library's token", async () => {
      const one = await onboardA();
      const two = await onboardA();
      expectApiError(await postboxWrite("postbox-unknown", one.publicKey, one.grant.access_token.value, Buffer.from("x")), 404, "NotFound");
      expectApiError(await postboxWrite(one.postboxId, two.publicKey, one.grant.access_token.value, Buffer.from("x")), 400, "InvalidRequest");
      expectApiError(await postboxWrite(one.postboxId, one.publicKey, two.grant.access_token.value, Buffer.from("x")), 403, "InsufficientScope");
    });

    it("rejects bad multipart bodies and missing encryption claims", async () => {
      const { grant, postboxId, publicKey } = await onboardA();
      const sealed = sealForPostbox(publicKey, Buffer.from("x"), DESCRIPTOR);
      const jwt = await signRequest(signer(), { access_token: grant.access_token.value, ...sealed.claims });
      const target = url(`permission-access/postbox/${postboxId}`);
      const post = (headers: Record<string, string>, body: string | Buffer | FormData) => call(target, { method: "POST", headers: { authorization: `Bearer ${jwt}`, ...headers }, body });
      expectApiError(await post({ "content-type": "application/octet-stream" }, sealed.cipherText), 400, "InvalidRequest");
      expectApiError(await post({ "content-type": "multipart/form-data; boundary=xyz" }, "garbage"), 400, "InvalidRequest");
      const noFile = new FormData();
      noFile.append("other", "value");
      expectApiError(await post({}, noFile), 400, "InvalidRequest");
      const form = new FormData();
      form.append("file", new Blob([sealed.cipherText]), "x.bin");
      const missing = await signRequest(signer(), { access_token: grant.access_token.value, iv: sealed.claims.iv });
      expectApiError(await call(target, { method: "POST", headers: { authorization: `Bearer ${missing}` }, body: form }), 400, "InvalidRequest");
      const badIv = await signRequest(signer(), { access_token: grant.access_token.value, ...sealed.claims, iv: "zz" });
      expectApiError(await call(target, { method: "POST", headers: { authorization: `Bearer ${badIv}` }, body: form }), 400, "InvalidRequest");
      expect(sandbox.library(grant.sub)?.files).toEqual([]);
    });
  });

  describe("robustness", () => {
    it("answers garbage with a JSON error and never a 5xx", async () => {
      const garbage: Array<[string, RequestInit]> = [
        ["oauth/authorize", { method: "POST", body: "\u0000\u0001" }],
        ["oauth/authorize", { method: "POST", headers: { authorization: "Bearer a.b.c" }, body: "[]" }],
        ["oauth/token", { method: "POST", headers: { authorization: "Bearer ..." } }],
        ["oauth/token", { method: "POST", headers: { authorization: `Bearer ${"x".repeat(5000)}` } }],
        ["permission-access/import", { method: "POST", headers: { authorization: "Basic abc", filedescriptor: "a.b.c" }, body: "x" }],
        ["permission-access/postbox/%E0%A4%A", { method: "POST", body: "x" }],
        ["permission-access/postbox/x", { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "--" }],
      ];
      for (const [path, init] of garbage) {
        const answer = await call(url(path), init);
        expect(answer.status, path).toBeGreaterThanOrEqual(400);
        expect(answer.status, path).toBeLessThan(500);
        if (answer.json !== undefined) expect(answer.json.error.code, path).toEqual(expect.any(String));
      }
      for (let round = 0; round < 20; round += 1) {
        const claims: Record<string, unknown> = { grant_type: ["authorization_code", "refresh_token", 3, null][round % 4], code: round % 3 === 0 ? {} : "c", code_verifier: [1], refresh_token: round % 2 === 0 ? "r" : [] };
        const answer = await postSigned(url("oauth/token"), await signRequest(signer(), claims));
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }
    });

    it("never puts token values or codes into error bodies", async () => {
      const { grant, code, pkce } = await onboard("C");
      const answers = [
        await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "authorization_code", code, code_verifier: pkce.verifier })),
        await postSigned(url("oauth/token"), await signRequest(signer(), { grant_type: "refresh_token", refresh_token: grant.refresh_token.value }, { signWith: OTHER_KEY.privateKey })),
      ];
      for (const answer of answers) {
        for (const secret of [grant.access_token.value, grant.refresh_token.value, code, pkce.verifier]) expect(answer.text).not.toContain(secret);
      }
    });
  });
});

function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as Record<string, unknown>;
}
