/**
 * The dev server as a local emulator: a request log, pages that refresh
 * their live part, controls (expire a user's tokens, add and clear faults,
 * reset), `.env` lines, a hint for tokens this sandbox never issued; and
 * what keeps its pages to the person at this machine: a Host check (DNS
 * rebinding), form tokens (CSRF) and no framing.
 */
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient } from "../../src/index.js";
import { createSandbox, type Sandbox, type SandboxRequestLogEntry, type SandboxServer } from "../../src/testing/index.js";
import { isAllowedHost } from "../../src/testing/sandbox/http/dev-security.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";
import { parseSandboxArgs, startSandboxCommand } from "../../src/cli/sandbox-command.js";
import { startCli, type RunningCli } from "./support.js";

const open: Array<{ close(): Promise<unknown> }> = [];
const clis: RunningCli[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
  await Promise.all(clis.splice(0).map((cli) => (cli.child.exitCode === null ? cli.stop("SIGKILL") : undefined)));
});

async function devServer(log?: SandboxRequestLogEntry[]): Promise<{ sandbox: Sandbox; server: SandboxServer; client: WriteClient }> {
  const sandbox = createSandbox();
  const server = await sandbox.listen({ interactive: true, ...(log === undefined ? {} : { onRequest: (entry) => log.push(entry) }) });
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: new MemoryTokenStore(),
    stateSecret: STATE_SECRET,
    retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 10 },
  });
  open.push(client, sandbox);
  return { sandbox, server, client };
}

async function authorize(sandbox: Sandbox, client: WriteClient, userId: string): Promise<string> {
  const { url, sealed } = await client.beginAuthorization({ userId });
  await client.completeAuthorization(await sandbox.consent(url), { sealed, expectedUserId: userId });
  return sandbox.libraries().at(-1)!.id;
}

/** A GET with a chosen Host header (fetch does not let a page or a test set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { host } }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;
/** The fault rules in force, as the page's live part lists them. */
async function faultsShown(server: SandboxServer): Promise<string[]> {
  const live = await (await fetch(new URL("/_sandbox/live", server.url))).text();
  return [...live.matchAll(/<li class="fault"><code>([^<]*)<\/code>/g)].map((m) => m[1]!);
}

async function control(server: SandboxServer, path: string, fields: Record<string, string>): Promise<Response> {
  return fetch(new URL(path, server.url), { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
}

describe("dev server security", () => {
  it("refuses a Host that is not a loopback name (DNS rebinding): 421 on pages and API, nothing revealed", async () => {
    const { server, sandbox } = await devServer();
    const port = new URL(server.url).port;
    for (const host of [`attacker.example:${port}`, `127.0.0.1.nip.io:${port}`, "attacker.example"]) {
      for (const path of ["/", server.jwksUrl]) {
        const answer = await getWithHost(new URL(path, server.url).href, host);
        expect(answer.status, `${host} ${path}`).toBe(421);
        expect(answer.body).not.toContain(sandbox.applicationId);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost"]) {
      const answer = await getWithHost(server.url, host);
      expect(answer.status, host).toBe(200);
      expect(answer.body).toContain(sandbox.applicationId);
    }
  });

  it.each([
    ["127.0.0.1:8787", "127.0.0.1", true],
    ["localhost", "127.0.0.1", true],
    ["LOCALHOST:8787", "127.0.0.1", true],
    ["[::1]:8787", "::1", true],
    ["[::1]:8787", "127.0.0.1", true],
    [undefined, "127.0.0.1", false],
    ["", "127.0.0.1", false],
    ["localhost.attacker.example", "127.0.0.1", false],
    ["127.0.0.1.attacker.example:8787", "127.0.0.1", false],
    ["[::1].attacker.example", "::1", false],
    ["localhost:8787:evil", "127.0.0.1", false],
  ] as const)("Host %j with the server bound to %s is allowed: %s", (header, bound, allowed) => {
    expect(isAllowedHost(header, bound)).toBe(allowed);
  });

  it("refuses a consent post without the page's token, or with another page's token, and the link stays usable", async () => {
    const { sandbox, client } = await devServer();
    const first = await client.beginAuthorization({ userId: "alice" });
    const second = await client.beginAuthorization({ userId: "bob" });
    const otherToken = csrfOf(await (await fetch(second.url)).text());
    const attempts: Array<Record<string, string>> = [{ decision: "approve" }, { decision: "approve", csrf: otherToken }, { decision: "approve", csrf: "x".repeat(43) }];
    for (const fields of attempts) {
      const answer = await fetch(first.url, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
      expect(answer.status).toBe(403);
    }
    const page = await (await fetch(first.url)).text();
    expect(page).toContain('id="approve"');
    const approved = await fetch(first.url, { method: "POST", body: new URLSearchParams({ decision: "approve", csrf: csrfOf(page) }), redirect: "manual" });
    expect(approved.status).toBe(303);
    await expect(client.completeAuthorization(approved.headers.get("location")!, { sealed: first.sealed })).resolves.toMatchObject({ userId: "alice" });
    expect(sandbox.libraries()).toHaveLength(1);
  });

  it("sends frame-ancestors 'none' and X-Frame-Options DENY with every page, and no referrer", async () => {
    const { server, client } = await devServer();
    const { url } = await client.beginAuthorization({ userId: "alice" });
    for (const page of [server.url, url, new URL("/_sandbox/live", server.url).href]) {
      const answer = await fetch(page);
      expect(answer.headers.get("content-security-policy"), page).toBe("frame-ancestors 'none'");
      expect(answer.headers.get("x-frame-options"), page).toBe("DENY");
      expect(answer.headers.get("referrer-policy"), page).toBe("no-referrer");
    }
  });

  it("refuses a control post without the form token, and changes nothing", async () => {
    const { sandbox, server, client } = await devServer();
    await authorize(sandbox, client, "alice");
    for (const [path, fields] of [
      ["/_sandbox/reset", {}],
      ["/_sandbox/faults", { endpoint: "import", status: "503" }],
      ["/_sandbox/expire", { library: sandbox.libraries()[0]!.id, kind: "refresh" }],
    ] as const) {
      expect((await control(server, path, fields)).status, path).toBe(403);
    }
    expect(sandbox.libraries()).toHaveLength(1);
    expect(await faultsShown(server)).toEqual([]);
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered", tokenRefreshed: false });
  });
});

describe("dev server controls", () => {
  it("expires one user's access token: their next write refreshes, another user's does not", async () => {
    const { sandbox, server, client } = await devServer();
    const alice = await authorize(sandbox, client, "alice");
    await authorize(sandbox, client, "bob");
    const csrf = csrfOf(await (await fetch(server.url)).text());
    const answer = await control(server, "/_sandbox/expire", { csrf, library: alice, kind: "access" });
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toMatch(/^\/\?done=/);
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered", tokenRefreshed: true });
    await expect(client.write("bob", jsonFile(2))).resolves.toMatchObject({ status: "delivered", tokenRefreshed: false });
  });

  it("expires one user's refresh token too: they must authorize again", async () => {
    const { sandbox, server, client } = await devServer();
    const alice = await authorize(sandbox, client, "alice");
    const csrf = csrfOf(await (await fetch(server.url)).text());
    await control(server, "/_sandbox/expire", { csrf, library: alice, kind: "access" });
    await control(server, "/_sandbox/expire", { csrf, library: alice, kind: "refresh" });
    await expect(client.write("alice", jsonFile(1))).rejects.toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
  });

  it("adds a fault from the form (the client retries through it), lists it, and clears it", async () => {
    const { sandbox, server, client } = await devServer();
    await authorize(sandbox, client, "alice");
    const csrf = csrfOf(await (await fetch(server.url)).text());
    expect((await control(server, "/_sandbox/faults", { csrf, endpoint: "import", status: "503", "retry-after": "0", times: "1" })).status).toBe(303);
    expect(await faultsShown(server)).toEqual(["endpoint=import, status=503, retryAfterSeconds=0, times=1"]);
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered", attempts: 2 });
    await control(server, "/_sandbox/faults", { csrf, endpoint: "import", status: "503" });
    expect((await control(server, "/_sandbox/faults/clear", { csrf })).status).toBe(303);
    expect(await faultsShown(server)).toEqual([]);
    await expect(client.write("alice", jsonFile(2))).resolves.toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("shows why a fault rule was refused, naming the field", async () => {
    const { server } = await devServer();
    const csrf = csrfOf(await (await fetch(server.url)).text());
    const answer = await control(server, "/_sandbox/faults", { csrf, endpoint: "import", status: "302" });
    const page = await (await fetch(new URL(answer.headers.get("location")!, server.url))).text();
    expect(page).toContain("status must be an integer from 400 to 599");
  });

  it("resets: users, tokens, files and faults are gone, the application and contract stay; an old token is answered with a hint", async () => {
    const { sandbox, server, client } = await devServer();
    await authorize(sandbox, client, "alice");
    await client.write("alice", jsonFile(1));
    sandbox.faults.add({ endpoint: "jwks", status: 503, times: 5 });
    const applicationId = sandbox.applicationId;
    const csrf = csrfOf(await (await fetch(server.url)).text());
    expect((await control(server, "/_sandbox/reset", { csrf })).status).toBe(303);
    expect(sandbox.libraries()).toEqual([]);
    expect(await faultsShown(server)).toEqual([]);
    expect(sandbox.counters.deliveries).toBe(0);
    expect(sandbox.applicationId).toBe(applicationId);
    expect(await (await fetch(new URL("/_sandbox/live", server.url))).text()).toContain("No users yet");
    // The app still holds alice's token: the sandbox says it never issued it, and what to do.
    const error = await client.write("alice", jsonFile(2)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "REAUTHORIZATION_REQUIRED" });
    // Authorizing again passes the stored token to digi.me to link the same library: the app hears what to do.
    const refused = await client.beginAuthorization({ userId: "alice" }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/The token \(access_token\) is invalid\. Sandbox hint: this sandbox never issued it.*delete the stored token.*--state <file>/);
  });

  it("serves the live part of the overview at /_sandbox/live, and the page refreshes it by itself", async () => {
    const { sandbox, server, client } = await devServer();
    const page = await (await fetch(server.url)).text();
    expect(page).toContain('<div id="live">');
    expect(page).toMatch(/setInterval\(.*\/_sandbox\/live/s);
    expect(await (await fetch(new URL("/_sandbox/live", server.url))).text()).toContain("No files delivered yet");
    await authorize(sandbox, client, "alice");
    await client.write("alice", jsonFile(3));
    const live = await (await fetch(new URL("/_sandbox/live", server.url))).text();
    expect(live).toContain("file-3.json");
    expect(live).toContain("deliveries: <strong>1</strong>");
  });

  it("logs every request: method, path without the query (no code), status, time", async () => {
    const log: SandboxRequestLogEntry[] = [];
    const { server, client } = await devServer(log);
    const { url } = await client.beginAuthorization({ userId: "alice" });
    await fetch(url);
    await fetch(new URL("/nowhere", server.url));
    await expect.poll(() => log.length).toBe(2);
    expect(log[0]).toMatchObject({ method: "GET", path: new URL(url).pathname, status: 200 });
    expect(log[1]).toMatchObject({ method: "GET", path: "/nowhere", status: 404 });
    for (const entry of log) {
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
      expect(JSON.stringify(entry)).not.toContain(new URL(url).searchParams.get("code")!);
    }
  });
});

describe("digime-write-pipeline sandbox: console", () => {
  it("prints a request log line per request, and --env prints the .env lines matching the banner", async () => {
    const cli = await startCli(["sandbox", "--port", "0", "--env"]);
    clis.push(cli);
    await expect.poll(() => cli.output()).toContain("DIGIME_ONBOARD_URL=");
    const env = Object.fromEntries([...cli.output().matchAll(/^(DIGIME_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(env).toEqual({
      DIGIME_APPLICATION_ID: cli.banner.applicationId,
      DIGIME_CONTRACT_ID: cli.banner.contractId,
      DIGIME_PRIVATE_KEY_FILE: cli.banner.privateKeyFile,
      DIGIME_BASE_URL: cli.banner.baseUrl,
      DIGIME_ONBOARD_URL: cli.banner.onboardUrl,
    });
    await fetch(cli.banner.filesPage);
    await fetch(new URL("authorize?code=not-a-code", cli.banner.onboardUrl));
    await expect.poll(() => cli.output()).toMatch(/^\d\d:\d\d:\d\d GET \/ 200 \d+ms$/m);
    await expect.poll(() => cli.output()).toMatch(/^\d\d:\d\d:\d\d GET \/apps\/saas\/authorize 400 \d+ms$/m);
    expect(cli.output()).not.toContain("not-a-code");
    expect(await cli.stop()).toBe(0);
  });

  it("--quiet logs no requests; the default port is the stable 8787", async () => {
    // In process, a request's log line is written before its answer reaches the client, so none can come late.
    for (const quiet of [false, true]) {
      const lines: string[] = [];
      const running = await startSandboxCommand(parseSandboxArgs(["--port", "0", ...(quiet ? ["--quiet"] : [])]), (line) => lines.push(line));
      await (await fetch(running.info.url)).text();
      await running.stop();
      expect(lines.some((line) => / GET \/ 200 /.test(line)), `quiet=${quiet}`).toBe(!quiet);
    }
    expect(parseSandboxArgs([]).port).toBe(8787);
  });
});
