/**
 * The refresh request the library sends (option `digimeApi`) is held to the
 * one the real SDK 16 sends from its public `refreshToken`: both are
 * captured on their way to the sandbox (msw) and compared claim by claim
 * and header by header. Runs where DIGIME_SDK_PATH names an SDK 13+ build
 * (see docs/testing.md); skipped, saying so, otherwise.
 */
import { setupServer } from "msw/node";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient, type UserAccessToken } from "../../src/index.js";
import { createTokenEndpoint } from "../../src/sdk/wire/token-endpoint.js";
import { createSandbox } from "../../src/testing/index.js";
import { findSdks } from "../support/real-sdk.js";

const sdk16 = process.env.DIGIME_SDK_PATH === undefined ? undefined : findSdks().sdks.find((sdk) => Number(sdk.version.split(".")[0]) >= 13);
if (sdk16 === undefined) console.info("refresh-request-parity skipped: set DIGIME_SDK_PATH to a build of SDK 13 or later (see docs/testing.md)");

interface Captured {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Headers that belong to the HTTP client rather than to the protocol. */
// (fetch adds accept-language and sec-fetch-mode on its own; got does not.)
const TRANSPORT_HEADERS = new Set(["user-agent", "host", "connection", "content-length", "accept-encoding", "transfer-encoding", "accept-language", "sec-fetch-mode"]);

describe.skipIf(sdk16 === undefined)("the library's refresh request and the real SDK's", () => {
  it(`carry the same claims and headers (SDK ${sdk16?.version ?? "none"})`, async () => {
    const sandbox = createSandbox();
    const server = setupServer(...sandbox.handlers());
    server.listen({ onUnhandledFrame: "error" });
    const captured: Captured[] = [];
    server.events.on("request:start", async ({ request }) => {
      if (!request.url.endsWith("oauth/token")) return;
      const copy = request.clone();
      const headers: Record<string, string> = {};
      copy.headers.forEach((value, name) => {
        if (!TRANSPORT_HEADERS.has(name)) headers[name] = value;
      });
      captured.push({ method: copy.method, path: new URL(copy.url).pathname, headers, body: await copy.text() });
    });
    try {
      const real = sdk16!.init({ applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl, onboardUrl: sandbox.onboardUrl });
      const client = new WriteClient({ sdk: real, contractDetails: sandbox.contractDetails, redirectUri: "https://app.example/cb", tokenStore: new MemoryTokenStore() });
      const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
      await client.completeAuthorization(await sandbox.consent(url), { sealed });
      const first = (await client.authorizationStatus("alice")).status;
      expect(first).toBe("authorized");
      const libraryId = sandbox.libraries()[0]!.id;
      const token = sandbox.latestToken(libraryId)!;
      captured.length = 0; // only the refreshes

      // The real SDK refreshes once, the library refreshes the pair it returned.
      const afterSdk = (await (real as { refreshToken(o: unknown): Promise<UserAccessToken> }).refreshToken({ contractDetails: sandbox.contractDetails, userAccessToken: token })) as UserAccessToken;
      const endpoint = createTokenEndpoint({ applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl, timeoutMs: 10_000, now: sandbox.now });
      const afterLibrary = await endpoint.refresh(sandbox.contractDetails, afterSdk);
      expect(afterLibrary.refreshToken.value).toBe(sandbox.latestToken(libraryId)?.refreshToken.value);
      expect(afterLibrary).toMatchObject({ user: afterSdk.user, consentid: afterSdk.consentid });

      expect(captured).toHaveLength(2);
      const [fromSdk, fromLibrary] = captured as [Captured, Captured];
      const jwtOf = (request: Captured) => (request.headers.authorization ?? "").replace(/^Bearer /, "");
      const view = (request: Captured, refreshed: UserAccessToken) => {
        const jwt = jwtOf(request);
        const claims = decodeJwt(jwt);
        return {
          method: request.method,
          path: request.path,
          headers: Object.keys(request.headers).sort(),
          contentType: request.headers["content-type"],
          accept: request.headers.accept,
          scheme: request.headers.authorization?.split(" ")[0],
          body: request.body,
          jwtHeader: decodeProtectedHeader(jwt),
          claimNames: Object.keys(claims).sort(),
          client_id: claims.client_id,
          grant_type: claims.grant_type,
          refreshesTheTokenGiven: claims.refresh_token === refreshed.refreshToken.value,
          nonce: /^[A-Za-z0-9]{32}$/.test(String(claims.nonce)),
          timestamp: typeof claims.timestamp === "number" && Math.abs(claims.timestamp - Date.now()) < 60_000,
        };
      };
      const sdkView = view(fromSdk, token);
      expect(sdkView).toMatchObject({ grant_type: "refresh_token", refreshesTheTokenGiven: true, nonce: true, timestamp: true, jwtHeader: { alg: "PS512" } });
      expect(view(fromLibrary, afterSdk)).toEqual(sdkView);
    } finally {
      server.close();
      await sandbox.close();
    }
  });
});
