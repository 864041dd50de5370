/**
 * The dev server's pages in headless Chromium (playwright-core): a person
 * approves on the consent page and lands on the app's callback, denies and
 * lands there with success=false, and sees the delivered file on the
 * overview page. The app's callback is a small server on loopback.
 *
 * Chromium is Debian's (`apt-get install chromium`); set CHROMIUM_PATH to use
 * another. Skipped, with a message, only when no Chromium can be found.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthorizationDeniedError, MemoryTokenStore, WriteClient } from "../../src/index.js";
import { createHttpSdk } from "../../src/testing/index.js";
import { jsonFile, STATE_SECRET } from "../support/setup.js";
import { startCli, type RunningCli } from "./support.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(`SKIPPED the sandbox consent page browser test: no Chromium at ${CHROMIUM} (install Debian's "chromium" package or set CHROMIUM_PATH).`);
}

describe.skipIf(!HAVE_CHROMIUM)("the sandbox dev server's pages in headless Chromium", () => {
  let cli: RunningCli;
  let client: WriteClient;
  let userDataDir: string;
  let context: BrowserContext;
  let app: Server;
  let REDIRECT_URI: string;

  beforeAll(async () => {
    // The app's callback page (browsers do not let a test intercept a redirect's target).
    app = createServer((_request, response) => response.end("callback received"));
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    REDIRECT_URI = `http://127.0.0.1:${(app.address() as AddressInfo).port}/digime/callback`;
    cli = await startCli(["sandbox", "--port", "0"]);
    client = new WriteClient({
      sdk: createHttpSdk({ applicationId: cli.banner.applicationId, baseUrl: cli.banner.baseUrl, onboardUrl: cli.banner.onboardUrl }),
      contractDetails: { contractId: cli.banner.contractId, privateKey: await readFile(cli.banner.privateKeyFile, "utf8") },
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      stateSecret: STATE_SECRET,
    });
    userDataDir = await mkdtemp(path.join(tmpdir(), "digime-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await client?.close();
    if (cli !== undefined) expect(await cli.stop()).toBe(0);
    await new Promise((resolve) => app?.close(resolve));
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
  });

  async function consentIn(page: Page, url: string, button: "#approve" | "#deny"): Promise<string> {
    await page.goto(url);
    expect(await page.textContent("h1")).toContain("share with this app?");
    await Promise.all([page.waitForURL(`${REDIRECT_URI}**`), page.click(button)]);
    return page.url();
  }

  it("Approve lands on the app's callback; the write then shows on the files page", async () => {
    const page = await context.newPage();
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    const callback = await consentIn(page, url, "#approve");
    expect(new URL(callback).searchParams.get("success")).toBe("true");
    await client.completeAuthorization(callback, { sealed });
    await expect(client.write("alice", jsonFile(7))).resolves.toMatchObject({ status: "delivered" });

    await page.goto(cli.banner.filesPage);
    expect(await page.textContent("#application-id")).toBe(cli.banner.applicationId);
    const rows = await page.locator("#files tr.file").allTextContents();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain("file-7.json");
    expect(rows[0]).toContain("application/json");
  });

  it("Deny lands on the app's callback with success=false, which the client reports as AuthorizationDeniedError", async () => {
    const page = await context.newPage();
    const { url, sealed } = await client.beginAuthorization({ userId: "bob" });
    const callback = await consentIn(page, url, "#deny");
    expect(new URL(callback).searchParams.get("success")).toBe("false");
    await expect(client.completeAuthorization(callback, { sealed })).rejects.toBeInstanceOf(AuthorizationDeniedError);
  });

  it("the overview refreshes by itself; clicking a user's \"Expire access token\" makes their next write refresh", async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1100, height: 900 });
    const { url, sealed } = await client.beginAuthorization({ userId: "carol" });
    await client.completeAuthorization(await consentIn(page, url, "#approve"), { sealed });
    await page.goto(cli.banner.filesPage);
    const before = await page.locator("#files tr.file").count();
    // A write lands while the page is open: it shows up without a reload.
    await client.write("carol", jsonFile(21));
    await expect.poll(() => page.locator("#files tr.file").count(), { timeout: 10_000 }).toBe(before + 1);
    await screenshot(page, "overview");

    const library = (await page.locator("#users tr.user code").allTextContents()).at(-1)!;
    await Promise.all([page.waitForURL(/\?done=/), page.click(`button[data-library="${library}"][data-kind="access"]`)]);
    expect(await page.textContent("#note")).toContain(`expired the access tokens of ${library}`);
    await expect.poll(async () => (await page.locator("#users tr.user").last().textContent()) ?? "").toContain("expired");
    await screenshot(page, "after-expire");
    await expect(client.write("carol", jsonFile(22))).resolves.toMatchObject({ status: "delivered", tokenRefreshed: true });
  });
});

/** Keep what the browser showed where SANDBOX_SCREENSHOTS points (to look at), else nowhere. */
async function screenshot(page: Page, name: string): Promise<void> {
  const directory = process.env.SANDBOX_SCREENSHOTS;
  if (directory === undefined) return;
  await page.screenshot({ path: path.join(directory, `sandbox-${name}.png`), fullPage: true });
}
