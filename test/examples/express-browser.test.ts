/**
 * The Express example in a real browser (headless Chromium through
 * playwright-core): sign in, connect digi.me (the sandbox's consent page is
 * served over HTTP on 127.0.0.1), upload a file, see it delivered; and a
 * tampered authorization cookie gets a clear error page.
 *
 * Chromium is Debian's (`apt-get install chromium`, which .ci/run does); set
 * CHROMIUM_PATH to use another. Skipped, with a message, only when no
 * Chromium can be found.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_COOKIE } from "../../examples/express/app.js";
import { startExample, type RunningExample } from "../../examples/express/server.js";
import { createSandbox } from "../../src/testing/index.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(`SKIPPED the Express browser test: no Chromium at ${CHROMIUM} (install Debian's "chromium" package, as .ci/run does, or set CHROMIUM_PATH).`);
}

describe.skipIf(!HAVE_CHROMIUM)("examples/express in headless Chromium", () => {
  let example: RunningExample;
  let userDataDir: string;
  let context: BrowserContext;

  beforeAll(async () => {
    example = await startExample({ port: 0, host: "127.0.0.1", env: {} });
    userDataDir = await mkdtemp(path.join(tmpdir(), "digime-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await example?.close();
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
  });

  const callbackUrl = (): string => new URL("/callback", example.url).href;

  async function signIn(page: Page, name: string): Promise<void> {
    await context.clearCookies(); // a fresh visitor
    await page.goto(example.url);
    await page.fill('input[name="name"]', name);
    await Promise.all([page.waitForURL(example.url), page.click('button[type="submit"]')]);
  }

  it("connects digi.me, uploads a file and lists it as delivered", async () => {
    const page = await context.newPage();
    await signIn(page, "alice");
    expect(await page.textContent("#digime-status")).toContain("not connected");

    // /connect → the sandbox's consent page (another origin) → /callback → home.
    const visited: string[] = [];
    page.on("request", (request) => {
      if (request.isNavigationRequest()) visited.push(new URL(request.url()).pathname);
    });
    await page.click("#connect");
    await page.waitForURL(/\?connected=1$/);
    expect(visited).toEqual(expect.arrayContaining(["/connect", "/callback"]));
    expect(visited.some((p) => p.endsWith("/authorize"))).toBe(true);
    expect(await page.textContent("#notice")).toBe("digi.me is connected.");
    expect(await page.textContent("#digime-status")).toContain("connected");
    // The bundle cookie is gone after the callback.
    expect((await context.cookies(callbackUrl())).some((c) => c.name === AUTH_COOKIE)).toBe(false);

    const content = Buffer.from("Statement for November\n");
    await page.setInputFiles("#file", { name: "statement-november.txt", mimeType: "text/plain", buffer: content });
    await Promise.all([page.waitForURL(/uploaded=/), page.click('#upload button[type="submit"]')]);
    expect(await page.textContent("#notice")).toBe("statement-november.txt was delivered to your digi.me library.");
    expect(await page.textContent("#delivered .file-name")).toBe("statement-november.txt");
    expect(await page.textContent("#delivered .status")).toBe("delivered");

    // And it really is in the user's (simulated) digi.me library, byte for byte (SDK 16 sends no file name).
    const files = example.digime.sandbox!.libraries().flatMap((library) => library.files);
    expect(files).toHaveLength(1);
    expect(files[0]!.fileDescriptor.mimeType).toBe("text/plain");
    expect(files[0]!.bytes.equals(content)).toBe(true);
    await page.close();
  }, 60_000);

  it("shows a clear error page when the authorization cookie was tampered with, and connects nothing", async () => {
    const page = await context.newPage();
    await signIn(page, "mallory");

    // Begin the connection without following the redirect (the context's request API shares the
    // browser's cookies), alter the sealed cookie, then let the browser go on to digi.me's consent page.
    const begin = await context.request.get(new URL("/connect", example.url).href, { maxRedirects: 0 });
    expect(begin.status()).toBe(303);
    const consentUrl = begin.headers().location;
    expect(consentUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*authorize\?/);
    const cookie = (await context.cookies(callbackUrl())).find((c) => c.name === AUTH_COOKIE);
    expect(cookie?.httpOnly).toBe(true);
    // Sent to the callback only, not to every page of the app.
    expect(cookie?.path).toBe("/callback");
    expect((await context.cookies(example.url)).some((c) => c.name === AUTH_COOKIE)).toBe(false);
    const tampered = cookie!.value.slice(0, -2) + (cookie!.value.endsWith("AA") ? "BB" : "AA");
    await context.addCookies([{ ...cookie!, value: tampered }]);

    const response = await page.goto(consentUrl!);
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).pathname).toBe("/callback");
    expect(await page.textContent("h1")).toBe("digi.me connection failed");
    expect(await page.textContent("#error-message")).toContain("altered or cannot be verified");
    expect(await page.textContent("#error-code")).toBe("STATE_TAMPERED");

    await page.goto(example.url);
    expect(await page.textContent("#digime-status")).toContain("not connected");
    await page.close();
  }, 60_000);

  it("clears a begun connection's cookie on sign-out, so the next user of the browser cannot complete it", async () => {
    const page = await context.newPage();
    await signIn(page, "erin");
    const begin = await context.request.get(new URL("/connect", example.url).href, { maxRedirects: 0 });
    expect(begin.status()).toBe(303);
    expect((await context.cookies(callbackUrl())).some((c) => c.name === AUTH_COOKIE)).toBe(true);
    await Promise.all([page.waitForURL(example.url), page.click('form[action="/logout"] button')]);
    expect((await context.cookies(callbackUrl())).some((c) => c.name === AUTH_COOKIE)).toBe(false);
    expect(await page.locator('input[name="name"]').count()).toBe(1);
    await page.close();
  }, 60_000);

  it("refuses a consent URL that another user started and sent to this one, and connects nobody", async () => {
    const page = await context.newPage();
    await signIn(page, "mallory");
    const begin = await context.request.get(new URL("/connect", example.url).href, { maxRedirects: 0 });
    const consentUrl = begin.headers().location!;
    // The victim, in their own browser session, opens the link mallory sent.
    await signIn(page, "victim");
    const response = await page.goto(consentUrl);
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).pathname).toBe("/callback");
    expect(await page.textContent("#error-code")).toBe("STATE_UNKNOWN");
    await page.goto(example.url);
    expect(await page.textContent("#digime-status")).toContain("not connected");
    expect(await example.digime.client.authorizationStatus("mallory")).toEqual({ status: "not-authorized" });
    await page.close();
  }, 60_000);

  it("refuses a sign-in posted from another site (login CSRF)", async () => {
    await context.clearCookies();
    const login = await context.request.post(new URL("/login", example.url).href, {
      form: { name: "mallory" },
      headers: { origin: "https://evil.example" },
      maxRedirects: 0,
    });
    expect(login.status()).toBe(403);
    expect(await context.cookies(example.url)).toEqual([]);
    const crossSite = await context.request.post(new URL("/login", example.url).href, {
      form: { name: "mallory" },
      headers: { "sec-fetch-site": "cross-site" },
      maxRedirects: 0,
    });
    expect(crossSite.status()).toBe(403);
    // The app's own form still works.
    const page = await context.newPage();
    await signIn(page, "alice");
    expect(await page.textContent("#digime-status")).toBeTruthy();
    await page.close();
  }, 60_000);
});

/**
 * The example with the REAL SDK pointed at the sandbox over HTTP (the mode a
 * developer uses before having digi.me credentials): DIGIME_BASE_URL and
 * DIGIME_ONBOARD_URL aim the SDK at `sandbox.listen()`. Needs Chromium and a
 * real SDK (DIGIME_SDK_PATH's first directory, or the installed package).
 */
const realSdkModule = ((): string | undefined => {
  const fromEnv = (process.env.DIGIME_SDK_PATH ?? "").split(path.delimiter).find((entry) => entry.trim() !== "");
  if (fromEnv !== undefined) return path.resolve(fromEnv);
  try {
    return createRequire(import.meta.url).resolve("@digime/digime-sdk-nodejs");
  } catch {
    return undefined;
  }
})();
if (realSdkModule === undefined) console.warn("SKIPPED the Express browser test with the real SDK: set DIGIME_SDK_PATH to a built @digime/digime-sdk-nodejs (see docs/testing.md).");

describe.skipIf(!HAVE_CHROMIUM || realSdkModule === undefined)("examples/express with the real SDK against the sandbox over HTTP, in headless Chromium", () => {
  it("connects, uploads, and the file arrives in the sandbox library", async () => {
    const sandbox = createSandbox();
    const server = await sandbox.listen();
    const dir = await mkdtemp(path.join(tmpdir(), "digime-example-real-"));
    const example = await startExample({
      port: 0,
      host: "127.0.0.1",
      env: {
        DIGIME_APPLICATION_ID: sandbox.applicationId,
        DIGIME_CONTRACT_ID: sandbox.contractDetails.contractId,
        DIGIME_PRIVATE_KEY: sandbox.contractDetails.privateKey,
        DIGIME_STATE_SECRET: randomBytes(32).toString("base64url"),
        DIGIME_BASE_URL: server.baseUrl,
        DIGIME_ONBOARD_URL: server.onboardUrl,
        DIGIME_TOKEN_FILE: path.join(dir, "tokens.json"),
        DIGIME_SDK_MODULE: realSdkModule!,
      },
    });
    const context = await chromium.launchPersistentContext(path.join(dir, "profile"), { executablePath: CHROMIUM, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      expect(example.digime.mode).toBe("digi.me");
      const page = await context.newPage();
      await page.goto(example.url);
      await page.fill('input[name="name"]', "alice");
      await Promise.all([page.waitForURL(example.url), page.click('button[type="submit"]')]);
      await page.click("#connect");
      await page.waitForURL(/\?connected=1$/);
      await page.setInputFiles("#file", { name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from("hello from the real SDK") });
      await Promise.all([page.waitForURL(/uploaded=/), page.click('#upload button[type="submit"]')]);
      const files = sandbox.libraries().flatMap((library) => library.files);
      expect(files.map((file) => file.bytes.toString())).toEqual(["hello from the real SDK"]);
    } finally {
      await context.close();
      await example.close();
      await sandbox.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
