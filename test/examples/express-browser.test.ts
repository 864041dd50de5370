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
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_COOKIE } from "../../examples/express/app.js";
import { startExample, type RunningExample } from "../../examples/express/server.js";

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
    // The bundle cookie was httpOnly and is gone after the callback.
    expect((await context.cookies(example.url)).some((c) => c.name === AUTH_COOKIE)).toBe(false);

    const content = Buffer.from("Statement for November\n");
    await page.setInputFiles("#file", { name: "statement-november.txt", mimeType: "text/plain", buffer: content });
    await Promise.all([page.waitForURL(/uploaded=/), page.click('#upload button[type="submit"]')]);
    expect(await page.textContent("#notice")).toBe("statement-november.txt was delivered to your digi.me library.");
    expect(await page.textContent("#delivered .file-name")).toBe("statement-november.txt");
    expect(await page.textContent("#delivered .status")).toBe("delivered");

    // And it really is in the user's (simulated) digi.me library, byte for byte.
    const files = example.digime.sandbox!.libraries().flatMap((library) => library.files);
    expect(files).toHaveLength(1);
    expect(files[0]!.fileName).toBe("statement-november.txt");
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
    const cookie = (await context.cookies(example.url)).find((c) => c.name === AUTH_COOKIE);
    expect(cookie?.httpOnly).toBe(true);
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
});
