/**
 * `digime-write-pipeline sandbox`: the simulated digi.me as a dev server in
 * its own process. The real-SDK-shaped flow (createHttpSdk speaks the wire
 * protocol) runs against it over HTTP, a person's consent page approves and
 * denies, delivered files show on a page, state survives a restart, faults
 * come from flags, usage mistakes exit 2 naming the flag, and no key or
 * token is ever printed.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthorizationDeniedError, MemoryTokenStore, WriteClient, type TokenStore } from "../../src/index.js";
import { createHttpSdk } from "../../src/testing/index.js";
import { findSdks } from "../support/real-sdk.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";
import { runCli, startCli, type Banner, type RunningCli } from "./support.js";

let directory: string;
const running: RunningCli[] = [];

beforeEach(async () => {
  directory = await mkdtemp(path.join(tmpdir(), "sandbox-cli-"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((cli) => (cli.child.exitCode === null ? cli.stop("SIGKILL") : undefined)));
  await rm(directory, { recursive: true, force: true });
});

async function start(args: string[]): Promise<RunningCli> {
  const cli = await startCli(args);
  running.push(cli);
  return cli;
}

async function clientFor(banner: Banner, tokenStore: TokenStore): Promise<WriteClient> {
  return new WriteClient({
    sdk: createHttpSdk({ applicationId: banner.applicationId, baseUrl: banner.baseUrl, onboardUrl: banner.onboardUrl }),
    contractDetails: { contractId: banner.contractId, privateKey: await readFile(banner.privateKeyFile, "utf8") },
    redirectUri: REDIRECT_URI,
    tokenStore,
    stateSecret: STATE_SECRET,
    retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 10 },
  });
}

/** What a person's browser does on the consent page: load it, then press a button (form post). */
async function clickThrough(authorizeUrl: string, decision: "approve" | "deny"): Promise<{ page: string; location: string }> {
  const page = await fetch(authorizeUrl);
  const html = await page.text();
  expect(page.status).toBe(200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf).toBeDefined();
  const answer = await fetch(authorizeUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ decision, csrf: csrf! }).toString(),
    redirect: "manual",
  });
  expect(answer.status).toBe(303);
  return { page: html, location: answer.headers.get("location") ?? "" };
}

describe("digime-write-pipeline sandbox", () => {
  it("--help documents every flag and exits 0", async () => {
    const { code, stdout } = await runCli(["sandbox", "--help"]);
    expect(code).toBe(0);
    for (const flag of ["--port", "--host", "--state", "--key-file", "--access-token-lifetime", "--refresh-token-lifetime", "--latency", "--fault", "--seed", "--auto-approve", "--help"]) {
      expect(stdout).toContain(flag);
    }
  });

  it.each([
    [["sandbox", "--port", "http"], "--port must be an integer"],
    [["sandbox", "--prot", "1"], "--prot"],
    [["sandbox", "--host", "0.0.0.0"], "--host must be a loopback address"],
    [["sandbox", "--fault", "status=503,colour=red"], '--fault has an unknown key "colour"'],
    [["sandbox", "--fault", "endpoint=nowhere"], "--fault: Invalid sandbox fault rule: endpoint must be one of"],
    [["sandbox", "--latency=-5"], "--latency must be an integer"],
    [["serve"], 'unknown command "serve"'],
  ])("%j is a usage error: exit 2, the message names the flag", async (args, message) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  it("a state file that is not a sandbox state is a usage error naming --state, and is left as it was", async () => {
    const file = path.join(directory, "state.json");
    await import("node:fs/promises").then((fs) => fs.writeFile(file, '{"not":"a sandbox"}'));
    const { code, stderr } = await runCli(["sandbox", "--port", "0", "--state", file]);
    expect(code).toBe(2);
    expect(stderr).toContain("--state");
    expect(await readFile(file, "utf8")).toBe('{"not":"a sandbox"}');
  });

  it("runs authorize, consent (a person approves on the page), exchange and write over HTTP; lists the file; state survives a restart", async () => {
    const statePath = path.join(directory, ".sandbox.json");
    const first = await start(["sandbox", "--port", "0", "--state", statePath]);
    expect(first.banner.stateFile).toBe(`${statePath} (new)`);
    expect(first.banner.privateKeyFile).toBe(path.join(directory, ".sandbox.key.pem"));
    expect((await stat(first.banner.privateKeyFile)).mode & 0o777).toBe(0o600);
    const privateKey = await readFile(first.banner.privateKeyFile, "utf8");
    expect(privateKey).toContain("PRIVATE KEY");

    const tokens = new MemoryTokenStore();
    const client = await clientFor(first.banner, tokens);
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    expect(url.startsWith(first.banner.onboardUrl)).toBe(true);
    const { page, location } = await clickThrough(url, "approve");
    expect(page).toContain('value="approve"');
    expect(page).toContain('value="deny"');
    expect(location.startsWith(REDIRECT_URI)).toBe(true);
    await client.completeAuthorization(location, { sealed });
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 1 });
    await client.close();

    const overview = await (await fetch(first.banner.filesPage)).text();
    expect(overview).toContain(first.banner.applicationId);
    expect(overview.match(/<tr class="file">/g)?.length).toBe(1);
    expect(overview).toContain("file-1.json");

    expect(await first.stop("SIGINT")).toBe(0);
    const printed = first.output();
    expect(printed).toContain("stopped.");
    expect(printed).not.toContain(privateKey.split("\n")[1]);
    expect((await stat(statePath)).mode & 0o777).toBe(0o600);

    // Same application, contract and key; the user's stored token still works.
    const second = await start(["sandbox", "--port", "0", "--state", statePath]);
    expect(second.banner).toMatchObject({ applicationId: first.banner.applicationId, contractId: first.banner.contractId, stateFile: `${statePath} (loaded)` });
    expect(await readFile(second.banner.privateKeyFile, "utf8")).toBe(privateKey);
    const again = await clientFor(second.banner, tokens);
    await expect(again.write("alice", jsonFile(2))).resolves.toMatchObject({ status: "delivered", attempts: 1 });
    await again.close();
    // Files are not kept across restarts (as sandbox snapshots say); the new one is listed.
    const after = await (await fetch(second.banner.filesPage)).text();
    expect(after.match(/<tr class="file">/g)?.length).toBe(1);
    expect(after).toContain("file-2.json");
    expect(await second.stop("SIGTERM")).toBe(0);
  });

  it("Deny on the consent page sends the user back with success=false: AuthorizationDeniedError", async () => {
    const cli = await start(["sandbox", "--port", "0"]);
    const client = await clientFor(cli.banner, new MemoryTokenStore());
    const { url, sealed } = await client.beginAuthorization({ userId: "bob" });
    const { location } = await clickThrough(url, "deny");
    const error = await client.completeAuthorization(location, { sealed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationDeniedError);
    expect(error).toMatchObject({ code: "AUTHORIZATION_DENIED", errorCode: "UserCancelled" });
    // The link is spent: the page says so instead of showing the buttons again.
    const reopened = await fetch(url);
    expect(reopened.status).toBe(400);
    expect(await reopened.text()).not.toContain('value="approve"');
    await client.close();
    // Without --state the key file was temporary: gone after a clean stop.
    expect(await cli.stop()).toBe(0);
    await expect(stat(cli.banner.privateKeyFile)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("--auto-approve keeps the test behaviour: the consent URL redirects at once", async () => {
    const cli = await start(["sandbox", "--port", "0", "--auto-approve"]);
    const client = await clientFor(cli.banner, new MemoryTokenStore());
    const { url, sealed } = await client.beginAuthorization({ userId: "carol" });
    const answer = await fetch(url, { redirect: "manual" });
    expect(answer.status).toBe(302);
    await client.completeAuthorization(answer.headers.get("location") ?? "", { sealed });
    await expect(client.write("carol", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
    await client.close();
  });

  it("--fault injects failures the client retries through (here one 503 on the import endpoint)", async () => {
    const cli = await start(["sandbox", "--port", "0", "--auto-approve", "--fault", "endpoint=import,status=503,times=1"]);
    const client = await clientFor(cli.banner, new MemoryTokenStore());
    const { url, sealed } = await client.beginAuthorization({ userId: "dave" });
    const answer = await fetch(url, { redirect: "manual" });
    await client.completeAuthorization(answer.headers.get("location") ?? "", { sealed });
    await expect(client.write("dave", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    await expect(client.write("dave", jsonFile(2))).resolves.toMatchObject({ status: "delivered", attempts: 1 });
    await client.close();
  });
});

// The real SDK, when one is available (DIGIME_SDK_PATH or an installed @digime/digime-sdk-nodejs), against the dev server.
const real = findSdks();
if (real.sdks.length === 0) console.warn(`SKIPPED the real SDK against the sandbox dev server: ${real.reasons.join("; ")}`);

describe.skipIf(real.sdks.length === 0)("the real SDK against digime-write-pipeline sandbox", () => {
  it.each(real.sdks.map((sdk) => [`${sdk.source} (${sdk.version})`, sdk] as const))("%s: authorize, consent on the page, exchange, write", async (_name, sdk) => {
    const cli = await start(["sandbox", "--port", "0"]);
    const client = new WriteClient({
      sdk: sdk.init({ applicationId: cli.banner.applicationId, baseUrl: cli.banner.baseUrl, onboardUrl: cli.banner.onboardUrl }),
      contractDetails: { contractId: cli.banner.contractId, privateKey: await readFile(cli.banner.privateKeyFile, "utf8") },
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      stateSecret: STATE_SECRET,
    });
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    const { location } = await clickThrough(url, "approve");
    await client.completeAuthorization(location, { sealed });
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
    await client.close();
    expect(await cli.stop()).toBe(0);
  });
});
