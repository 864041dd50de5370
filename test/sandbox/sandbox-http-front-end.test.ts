/**
 * The HTTP front end as a whole: the URLs a sandbox gives the SDK, the
 * loopback server's lifecycle, msw handlers at custom URLs, and one state
 * shared with the in-process fakes.
 */
import { setupServer } from "msw/node";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient } from "../../src/index.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import { call, pkcePair, postSigned, signDescriptor, signRequest, verifyServerToken } from "./sandbox-http-wire-client.js";

const CALLBACK = "https://app.example/digime/callback";
const DESCRIPTOR = { mimeType: "text/plain", accounts: [{ accountId: "a" }] };
const opened: Sandbox[] = [];

function sandboxUnderTest(): Sandbox {
  const sandbox = createSandbox();
  opened.push(sandbox);
  return sandbox;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((sandbox) => sandbox.close()));
});

describe("sandbox URLs and the loopback server", () => {
  it("points baseUrl and onboardUrl at the virtual host, at the server while listening, and back after close", async () => {
    const sandbox = sandboxUnderTest();
    expect(sandbox.baseUrl).toBe("https://sandbox.digi.me.invalid/v1.7/");
    expect(sandbox.onboardUrl).toBe("https://sandbox.digi.me.invalid/apps/saas/");
    const server = await sandbox.listen({ port: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(sandbox.baseUrl).toBe(server.baseUrl);
    expect(server.baseUrl).toBe(`${server.url}v1.7/`);
    expect(sandbox.onboardUrl).toBe(`${server.url}apps/saas/`);
    expect(server.jwksUrl).toBe(`${server.baseUrl}jwks/oauth`);
    expect((await call(server.jwksUrl)).status).toBe(200);
    await sandbox.close();
    await sandbox.close(); // idempotent
    expect(sandbox.baseUrl).toBe("https://sandbox.digi.me.invalid/v1.7/");
    await expect(fetch(server.jwksUrl)).rejects.toThrow();
  });

  it("makes the in-process fakes hand out consent URLs on the server while it listens, which a browser can follow", async () => {
    const sandbox = sandboxUnderTest();
    const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: CALLBACK, tokenStore: new MemoryTokenStore() });
    const server = await sandbox.listen();
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    expect(url.startsWith(`${server.onboardUrl}authorize?`)).toBe(true);
    // What a browser does: open the consent page, which approves and redirects to the app.
    const consent = await fetch(url, { redirect: "manual" });
    expect(consent.status).toBe(302);
    const callback = consent.headers.get("location")!;
    expect(callback.startsWith(CALLBACK)).toBe(true);
    await expect(client.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
    await sandbox.close();
    expect((await client.beginAuthorization({ userId: "bob" })).url.startsWith("https://sandbox.digi.me.invalid/apps/saas/authorize?")).toBe(true);
    await client.close();
  });

  it("serves one server at a time, and again after close", async () => {
    const sandbox = sandboxUnderTest();
    const first = await sandbox.listen();
    await expect(sandbox.listen()).rejects.toThrow(/already listening/);
    await first.close();
    const second = await sandbox.listen();
    expect((await call(second.jwksUrl)).status).toBe(200);
  });

  it("binds loopback only and validates its options", async () => {
    const sandbox = sandboxUnderTest();
    await expect(sandbox.listen({ host: "0.0.0.0" as never })).rejects.toThrow(RangeError);
    await expect(sandbox.listen({ port: -1 })).rejects.toThrow(RangeError);
    await expect(sandbox.listen({ port: 1.5 })).rejects.toThrow(RangeError);
    await expect(sandbox.listen({ interactive: "yes" as never })).rejects.toThrow(/interactive must be a boolean/);
    expect(sandbox.baseUrl).toBe("https://sandbox.digi.me.invalid/v1.7/");
  });

  it("answers unknown paths with 404 and wrong methods with 405, as JSON errors", async () => {
    const sandbox = sandboxUnderTest();
    const server = await sandbox.listen();
    const missing = await call(`${server.baseUrl}permission-access/export`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("NotFound");
    const wrong = await call(`${server.baseUrl}oauth/token`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect((await call(`${server.url}/${server.baseUrl}`)).status).toBe(404);
  });

  it("stops serving requests in flight on close without hanging", async () => {
    const sandbox = sandboxUnderTest();
    const server = await sandbox.listen();
    sandbox.pause();
    const held = fetch(server.jwksUrl).then(
      () => "answered",
      () => "dropped",
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await sandbox.close();
    sandbox.resume();
    expect(await held).toBe("dropped");
  });
});

describe("msw handlers", () => {
  it("answer at custom URLs, such as the SDK's defaults, with a jku under them", async () => {
    const sandbox = sandboxUnderTest();
    const server = setupServer(...sandbox.handlers({ baseUrl: "https://api.digi.me/v1.7", onboardUrl: "https://api.digi.me/apps/saas/" }));
    server.listen({ onUnhandledFrame: "error" });
    try {
      const pkce = pkcePair();
      const jwt = await signRequest(
        { applicationId: sandbox.applicationId, ...sandbox.contractDetails },
        { code_challenge: pkce.challenge, code_challenge_method: "S256", redirect_uri: CALLBACK, response_type: "code", state: "s" },
      );
      const answer = await postSigned("https://api.digi.me/v1.7/oauth/authorize", jwt, "{}");
      expect(answer.status).toBe(200);
      expect((await verifyServerToken(answer.json.token)).jku).toBe("https://api.digi.me/v1.7/jwks/oauth");
    } finally {
      server.close();
    }
  });

  it("refuse URLs that are not absolute http(s) roots", () => {
    const sandbox = sandboxUnderTest();
    expect(() => sandbox.handlers({ baseUrl: "/v1.7/" })).toThrow(TypeError);
    expect(() => sandbox.handlers({ onboardUrl: "ftp://x/" })).toThrow(TypeError);
    expect(() => sandbox.handlers({ baseUrl: "https://x/v1.7/?a=1" })).toThrow(TypeError);
  });

  it("are one per endpoint, consent page included", () => {
    const sandbox = sandboxUnderTest();
    expect(sandbox.handlers().map((handler) => handler.info.header)).toEqual([
      "GET https://sandbox.digi.me.invalid/v1.7/jwks/oauth",
      "POST https://sandbox.digi.me.invalid/v1.7/oauth/authorize",
      "POST https://sandbox.digi.me.invalid/v1.7/oauth/token",
      "POST https://sandbox.digi.me.invalid/v1.7/permission-access/postbox/:postboxId",
      "POST https://sandbox.digi.me.invalid/v1.7/permission-access/import",
      "GET https://sandbox.digi.me.invalid/apps/saas/authorize",
    ]);
  });
});

describe("one state behind every front end", () => {
  it("shows a file written over HTTP in the library a fake onboarded, counted once, and vice versa", async () => {
    const sandbox = sandboxUnderTest();
    const server = await sandbox.listen();
    const sdk = sandbox.sdk("v16");
    const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: CALLBACK, state: "s" });
    const authorizationCode = new URL(await sandbox.consent(url)).searchParams.get("code") ?? "";
    const token = await sdk.exchangeCodeForToken({ contractDetails: sandbox.contractDetails, authorizationCode, codeVerifier });
    const libraryId = token.user?.id ?? "";

    const answer = await call(`${server.baseUrl}permission-access/import`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signRequest({ applicationId: sandbox.applicationId, ...sandbox.contractDetails }, { access_token: token.accessToken.value })}`,
        filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, DESCRIPTOR),
      },
      body: "over http",
    });
    expect(answer.status).toBe(200);
    await sdk.pushData({ type: "library", contractDetails: sandbox.contractDetails, userAccessToken: token, data: { fileData: Buffer.from("in process"), fileName: "b.txt", fileDescriptor: DESCRIPTOR } });
    expect(sandbox.library(libraryId)?.files.map((file) => file.bytes.toString())).toEqual(["over http", "in process"]);
    expect(sandbox.counters).toMatchObject({ authorizeUrls: 1, exchanges: 1, writeAttempts: 2, deliveries: 2 });
  });

  it("lets a fault rule hit the same user over HTTP and in process", async () => {
    const sandbox = sandboxUnderTest();
    const server = await sandbox.listen();
    const sdk = sandbox.sdk("v16");
    const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: CALLBACK, state: "s" });
    const authorizationCode = new URL(await sandbox.consent(url)).searchParams.get("code") ?? "";
    const token = await sdk.exchangeCodeForToken({ contractDetails: sandbox.contractDetails, authorizationCode, codeVerifier });
    const rule = sandbox.faults.add({ libraryId: token.user?.id ?? "", status: 503, retryAfterSeconds: 1 });
    const overHttp = await call(`${server.baseUrl}permission-access/import`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await signRequest({ applicationId: sandbox.applicationId, ...sandbox.contractDetails }, { access_token: token.accessToken.value })}`,
        filedescriptor: await signDescriptor(sandbox.contractDetails.privateKey, DESCRIPTOR),
      },
      body: "x",
    });
    expect(overHttp.status).toBe(503);
    const data = { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: DESCRIPTOR };
    await expect(sdk.pushData({ type: "library", contractDetails: sandbox.contractDetails, userAccessToken: token, data })).rejects.toMatchObject({ name: "HTTPError" });
    expect(rule.hits).toBe(2);
  });
});

describe("listen({ interactive: true }): pages for a person", () => {
  it("asks on the consent page (no redirect until a button is pressed), escapes what it shows, and lists delivered files at the root", async () => {
    const sandbox = sandboxUnderTest();
    const server = await sandbox.listen({ interactive: true });
    const sdk = sandbox.sdk("v16");
    const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback: "https://app.example/cb", state: "s1" });
    const page = await fetch(url, { redirect: "manual" });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('name="decision" value="approve"');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    // A bad decision is refused without spending the link.
    const bad = await fetch(url, { method: "POST", body: new URLSearchParams({ decision: "maybe", csrf }), redirect: "manual" });
    expect(bad.status).toBe(400);
    const decided = await fetch(url, { method: "POST", body: new URLSearchParams({ decision: "approve", csrf }), redirect: "manual" });
    expect(decided.status).toBe(303);
    const code = new URL(decided.headers.get("location")!).searchParams.get("code")!;
    const token = await sdk.exchangeCodeForToken({ contractDetails: sandbox.contractDetails, authorizationCode: code, codeVerifier });
    await sdk.pushData({
      type: "library",
      contractDetails: sandbox.contractDetails,
      userAccessToken: token,
      data: { fileData: Buffer.from("x"), fileName: "x", fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "a" }], reference: ['<script>alert("x")</script>'] } },
    });
    const overview = await (await fetch(server.url)).text();
    expect(overview).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;");
    expect(overview).not.toContain("<script>alert");
  });
});
