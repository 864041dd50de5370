/**
 * The write flow through WriteClient with the REAL @digime/digime-sdk-nodejs
 * against the sandbox's HTTP front end, for every SDK that can be loaded:
 * - `DIGIME_SDK_PATH`: directories of built SDK packages, separated by the
 *   platform's path delimiter (":" on POSIX), e.g.
 *   `DIGIME_SDK_PATH=/tmp/sdk-v8:/tmp/sdk-v10:/tmp/sdk-v16`;
 * - otherwise `@digime/digime-sdk-nodejs` if it is installed.
 * Each runs over msw (the SDK's got requests intercepted in process) and over
 * the loopback server. Without any SDK the suite is skipped with the reason.
 */
import { createRequire } from "node:module";
import { setupServer, type SetupServer } from "msw/node";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient, type WriteClientEvents } from "../../src/index.js";
import { createSandbox, type Sandbox } from "../../src/testing/index.js";
import { findSdks } from "../support/real-sdk.js";

const REDIRECT_URI = "https://app.example/digime/callback";
const STATE_SECRET = "Gl0S4fw6rm4eIG5OEJ4iVAY2OWg7Rf5m7x9_fr0CPDY";
const requireHere = createRequire(import.meta.url);

const { sdks, reasons } = findSdks();
const skipReason =
  sdks.length === 0
    ? `the real @digime/digime-sdk-nodejs could not be loaded (${reasons.join("; ")}); set DIGIME_SDK_PATH to built SDK directories, see docs/testing.md`
    : undefined;
if (skipReason !== undefined) console.info(`real-sdk-compat skipped: ${skipReason}`);
else if (reasons.length > 0) console.info(`real-sdk-compat: some SDKs were not loaded: ${reasons.join("; ")}`);

if (skipReason !== undefined) {
  describe("the real SDK against the sandbox over HTTP", () => {
    // The reason is the test's name, so it shows in every reporter's list of skipped tests.
    it.skip(`not run: ${skipReason}`, () => undefined);
  });
}

const cases = sdks.flatMap((sdk) => (["msw", "listen"] as const).map((transport) => ({ sdk, transport, name: `${sdk.version} (generation ${sdk.generation}, ${sdk.source}) over ${transport}` })));

/** The declared peer range, `>=A <B`: the compatibility run covers exactly the majors it allows. */
const PEER_RANGE = (requireHere("../../package.json") as { peerDependencies: Record<string, string> }).peerDependencies["@digime/digime-sdk-nodejs"]!;

describe.skipIf(sdks.length === 0)("the real SDKs under test", () => {
  it.each(sdks.map((sdk) => ({ sdk, name: `${sdk.version} (${sdk.source})` })))("lie inside the declared peer range: $name", ({ sdk }) => {
    const [, low, high] = /^>=(\d+) <(\d+)$/.exec(PEER_RANGE) ?? [];
    const major = Number(sdk.version.split(".")[0]);
    expect(major >= Number(low) && major < Number(high), `${sdk.version} against ${PEER_RANGE}`).toBe(true);
  });
});

describe.skipIf(cases.length === 0)("WriteClient with the real SDK", () => {
  let mswServer: SetupServer | undefined;
  let sandbox: Sandbox | undefined;

  afterEach(async () => {
    mswServer?.close();
    mswServer = undefined;
    await sandbox?.close();
  });

  it.each(cases)("authorizes, writes, survives an access-token expiry, and reads back: $name", async ({ sdk: real, transport }) => {
    let offsetMs = 0;
    sandbox = createSandbox({ now: () => Date.now() + offsetMs });
    if (transport === "msw") {
      mswServer = setupServer(...sandbox.handlers());
      mswServer.listen({ onUnhandledFrame: "error" });
    } else {
      await sandbox.listen();
    }
    const current = sandbox;
    const sdk = real.init({ applicationId: current.applicationId, baseUrl: current.baseUrl, onboardUrl: current.onboardUrl });
    const store = new MemoryTokenStore();
    const client = new WriteClient({
      sdk,
      contractDetails: current.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: STATE_SECRET,
      now: current.now,
      retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 50 },
    });
    const events: Array<keyof WriteClientEvents> = [];
    for (const name of ["token:refreshed", "write:retrying", "sdk:limitation"] as const) client.on(name, () => events.push(name));
    const file = (text: string) => ({ fileData: Buffer.from(text), fileName: `${text}.txt`, fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "compat" }] } });

    // Authorize: the real SDK's getAuthorizeUrl (oauth/authorize + JWKS), the user's consent, the exchange.
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    expect(url.startsWith(`${current.onboardUrl}authorize?code=`)).toBe(true);
    const callbackUrl = await current.consent(url);
    await client.completeAuthorization(callbackUrl, { sealed });
    const key = { userId: "alice", contractId: client.contractId };
    const libraryId = current.libraryIdOf((await store.get(key))?.userAccessToken.accessToken.value ?? "") ?? "";
    expect(libraryId).not.toBe("");

    await expect(client.write("alice", file("first"))).resolves.toMatchObject({ status: "delivered", attempts: 1 });

    // A transient failure is retried by the client, with the real SDK's error shapes.
    const endpoint = real.generation === "A" ? "postbox" : "import";
    current.faults.add({ endpoint, status: 503, retryAfterSeconds: 0, times: 1 });
    await expect(client.write("alice", file("second"))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    if (transport === "listen") {
      // Only the loopback server can reset a connection with a code (ECONNRESET) the client retries.
      current.faults.add({ endpoint, network: "ECONNRESET", times: 1 });
      await expect(client.write("alice", file("reset"))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    }

    // The access token expires between writes: the SDK (or, with refreshToken, the client) refreshes over HTTP.
    offsetMs += 2 * 3600 * 1000;
    await expect(client.write("alice", file("after-expiry"))).resolves.toMatchObject({ status: "delivered" });
    expect(current.counters.refreshes).toBe(1);

    const stored = await store.get(key);
    if (real.generation === "B") {
      // 10.x refreshes inside write() and drops the new token: the documented limitation. The
      // stored refresh token is spent, so the next refresh needs a new authorization.
      expect(events).toContain("sdk:limitation");
      expect(stored?.userAccessToken.accessToken.value).not.toBe(current.latestToken(libraryId)?.accessToken.value);
      await expect(client.write("alice", file("stale"))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    } else {
      // A and C hand the refreshed token back; the client stored the newest one and keeps using it.
      expect(events).toContain("token:refreshed");
      expect(stored?.userAccessToken.accessToken.value).toBe(current.latestToken(libraryId)?.accessToken.value);
      await expect(client.write("alice", file("last"))).resolves.toMatchObject({ status: "delivered", attempts: 1, tokenRefreshed: false });
    }

    // Read back: every file stored once, in order, with its descriptor (8.x: decrypted, with its name).
    const names = ["first", "second", ...(transport === "listen" ? ["reset"] : []), "after-expiry", ...(real.generation === "B" ? [] : ["last"])];
    const files = current.library(libraryId)?.files ?? [];
    expect(files.map((delivered) => delivered.bytes.toString())).toEqual(names);
    expect(files.every((delivered) => delivered.generation === real.generation)).toBe(true);
    expect(files[0]?.fileDescriptor).toEqual({ mimeType: "text/plain", accounts: [{ accountId: "compat" }] });
    if (real.generation === "A") expect(files.map((delivered) => delivered.fileName)).toEqual(names.map((name) => `${name}.txt`));
    await client.close();
  });

  it.each(cases.filter(({ sdk }) => sdk.generation === "C"))("keeps the token the SDK refreshes inside pushData after a server-side revocation: $name", async ({ sdk: real, transport }) => {
    sandbox = createSandbox();
    if (transport === "msw") {
      mswServer = setupServer(...sandbox.handlers());
      mswServer.listen({ onUnhandledFrame: "error" });
    } else {
      await sandbox.listen();
    }
    const current = sandbox;
    const store = new MemoryTokenStore();
    const client = new WriteClient({
      sdk: real.init({ applicationId: current.applicationId, baseUrl: current.baseUrl, onboardUrl: current.onboardUrl }),
      contractDetails: current.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: STATE_SECRET,
    });
    const { url, sealed } = await client.beginAuthorization({ userId: "bob" });
    await client.completeAuthorization(await current.consent(url), { sealed });
    current.expireAccessTokens();
    await expect(client.write("bob", { fileData: Buffer.from("x"), fileName: "x.txt", fileDescriptor: { mimeType: "text/plain", accounts: [] } })).resolves.toMatchObject({
      status: "delivered",
      tokenRefreshed: true,
    });
    const stored = await store.get({ userId: "bob", contractId: client.contractId });
    const libraryId = current.libraryIdOf(stored?.userAccessToken.accessToken.value ?? "") ?? "";
    expect(stored?.userAccessToken.accessToken.value).toBe(current.latestToken(libraryId)?.accessToken.value);
    await client.close();
  });
});
