/**
 * No leaks: the whole flow (authorization, denied consent, tampered and
 * replayed bundles, writes with refreshes, retries and failures, a failing
 * token store, an SDK whose errors echo secrets) with a recorder on every
 * event, error, error cause and `util.inspect` output; none of them may hold
 * an access token, refresh token, code verifier, authorization code, the
 * contract's private key or a state secret.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  FileTokenStore,
  MemoryPendingAuthorizationStore,
  MemoryTokenStore,
  type AuthorizationBundle,
  WriteClient,
  type DigimeSdk,
  type TokenStore,
  TokenStoreError,
  type UserAccessToken,
  type WriteClientEvents,
} from "../../src/index.js";
import type { Credentials, CredentialsKey, SetOptions, SetResult, StoredCredentials } from "../../src/stores.js";
import { createSandbox, type Sandbox, type SandboxSdkVersion } from "../../src/testing/index.js";
import { EVENT_NAMES, jsonFile, REDIRECT_URI } from "../support/setup.js";
import { recordingSdk } from "./support/recording-sdk.js";

const SECRETS = ["dvHVMbj8x3OpFRonE_d-W6S1lx6P_8qeNg_PAwRfoSc", "+6NecK4L/Is0MsY3OWVLLQBgNcTdCswUv9gRuKFy+50="];
const T0 = Date.UTC(2030, 0, 1);

/** Everything the library showed the outside world, as text. */
class Recorder {
  readonly texts: Array<{ where: string; text: string }> = [];

  add(where: string, value: unknown): void {
    const show = (label: string, text: string | undefined): void => {
      if (text !== undefined) this.texts.push({ where: `${where} (${label})`, text });
    };
    show("inspect", inspect(value, { depth: Infinity, showHidden: true, maxArrayLength: Infinity, maxStringLength: Infinity }));
    try {
      show("json", JSON.stringify(value));
    } catch (error) {
      show("json-error", String(error));
    }
    if (value instanceof Error) this.error(where, value);
    // Errors carried inside event payloads.
    if (typeof value === "object" && value !== null && "error" in value && value.error instanceof Error) this.error(`${where}.error`, value.error);
  }

  /** An error, its message, stack, string form, and every cause down the chain. */
  error(where: string, error: unknown): void {
    let current: unknown = error;
    for (let depth = 0; current !== undefined && current !== null && depth < 20; depth += 1) {
      const label = `${where}${".cause".repeat(depth)}`;
      this.texts.push({ where: `${label} (inspect)`, text: inspect(current, { depth: Infinity, showHidden: true }) });
      this.texts.push({ where: `${label} (String)`, text: String(current) });
      if (current instanceof Error) {
        this.texts.push({ where: `${label} (message)`, text: current.message });
        this.texts.push({ where: `${label} (stack)`, text: current.stack ?? "" });
      }
      try {
        this.texts.push({ where: `${label} (json)`, text: JSON.stringify(current) ?? "" });
      } catch {
        // circular: inspect covered it
      }
      current = (current as { cause?: unknown }).cause;
    }
  }

  async settle<T>(where: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await run();
      this.add(`${where} result`, value);
      return value;
    } catch (error) {
      this.add(`${where} error`, error);
      return undefined;
    }
  }
}

/** A pending authorization store whose failures echo the bundle they were given. */
class LeakyPendingStore extends MemoryPendingAuthorizationStore {
  failNextSave = false;
  override async save(bundle: AuthorizationBundle): Promise<void> {
    if (this.failNextSave) {
      this.failNextSave = false;
      throw Object.assign(new Error(`SET digime:pending:${bundle.state} ${JSON.stringify(bundle)} failed: READONLY`), { bundle });
    }
    return super.save(bundle);
  }
}

/**
 * A token store whose failures echo what it was asked to store, like a chatty
 * database driver. `typed`: the store wraps the driver's error in our own
 * `TokenStoreError`, as the Postgres example in docs/token-stores.md used to,
 * with the row in a pg-style `detail`, a token prefix in the message and a
 * multi-line message to forge log lines.
 */
class LeakyFailingStore implements TokenStore {
  readonly inner = new MemoryTokenStore();
  failing: false | "plain" | "typed" = false;

  #fail(detail: { credentials: Credentials }): never {
    const text = JSON.stringify(detail);
    if (this.failing === "typed") {
      const { accessToken, refreshToken } = detail.credentials.userAccessToken;
      const pg = Object.assign(new Error("duplicate key value violates unique constraint \"digime_tokens_pkey\""), {
        code: "23505",
        detail: `Key (user_id)=(x) already exists with (access_token, refresh_token)=(${accessToken.value}, ${refreshToken.value}).`,
        parameters: [accessToken.value, refreshToken.value],
      });
      throw Object.assign(new TokenStoreError(`upsert failed for token ${accessToken.value.slice(0, 16)}…\nWARN forged line`, { cause: pg }), { row: detail });
    }
    throw Object.assign(new Error(`duplicate key violates constraint; row: ${text}`), {
      code: "23505",
      detail: text,
      cause: new Error(`driver said: ${text}`),
    });
  }

  get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    return this.inner.get(key);
  }
  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    if (this.failing !== false) this.#fail({ credentials });
    return this.inner.set(key, credentials, options);
  }
  delete(key: CredentialsKey): Promise<boolean> {
    return this.inner.delete(key);
  }
  listByUser(userId: string): Promise<StoredCredentials[]> {
    return this.inner.listByUser(userId);
  }
}

type Trap = "authorize" | "exchange" | "write" | "write-terminal" | "write-hostile" | "refresh";

/**
 * An SDK whose next call of a chosen kind fails with an error that echoes
 * every secret it was given, the way an HTTP client error may carry the
 * request (headers, body, options) and the response.
 */
function trappingSdk(inner: DigimeSdk, privateKey: string): { sdk: DigimeSdk; arm(trap: Trap): void; raised: unknown[] } {
  const armed = new Set<Trap>();
  const raised: unknown[] = [];
  const keyBody = privateKey
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
  const fire = (trap: Trap, status: number, secrets: Record<string, unknown>): void => {
    if (!armed.delete(trap)) return;
    if (trap === "write-hostile") {
      // A hostile server: a token where digi.me's error code goes, a token prefix and the bare key body in the message.
      const token = secrets.token as UserAccessToken;
      const error = Object.assign(new Error(`rejected ${token.accessToken.value.slice(0, 20)} key=${keyBody}`), {
        name: "ServerError",
        error: { code: token.refreshToken.value, message: "no", statusCode: status },
        response: { statusCode: status, headers: {}, body: JSON.stringify({ error: { code: token.accessToken.value } }) },
      });
      raised.push(error);
      throw error;
    }
    const text = JSON.stringify(secrets);
    const error = Object.assign(new Error(`Request failed with ${status}: ${text} signed with ${privateKey}`), {
      name: "HTTPError",
      code: "ERR_NON_2XX_3XX_RESPONSE",
      response: { statusCode: status, statusMessage: "Failed", headers: {}, body: text },
      options: { headers: { authorization: `Bearer ${text}` }, json: secrets, privateKey },
      request: { secrets },
    });
    raised.push(error);
    throw error;
  };
  const source = inner as unknown as Record<string, (options: never) => Promise<unknown>>;
  const sdk: Record<string, unknown> = {};
  for (const name of Object.keys(source)) {
    const method = source[name]!;
    sdk[name] = async (options: Record<string, unknown>) => {
      const token = options.userAccessToken as UserAccessToken | undefined;
      if (name === "getAuthorizeUrl") fire("authorize", 500, { token, contractDetails: options.contractDetails });
      if (name === "exchangeCodeForToken") fire("exchange", 400, { code: options.authorizationCode, codeVerifier: options.codeVerifier });
      if (name === "write" || name === "pushData") {
        fire("write", 500, { token });
        fire("write-terminal", 400, { token });
        fire("write-hostile", 400, { token });
      }
      if (name === "refreshToken") fire("refresh", 503, { token });
      return method.call(inner, options as never);
    };
  }
  return { sdk: sdk as unknown as DigimeSdk, arm: (trap) => armed.add(trap), raised };
}

/** Every secret the flow produced. */
function secretsOf(sandbox: Sandbox, recorder: ReturnType<typeof recordingSdk>, seenTokens: Set<string>): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const value of [...recorder.tokenValues, ...seenTokens]) secrets.set(value, "token");
  for (const value of recorder.codeVerifiers) secrets.set(value, "code verifier");
  for (const value of recorder.authorizationCodes) secrets.set(value, "authorization code");
  for (const value of SECRETS) secrets.set(value, "state secret");
  const pem = sandbox.contractDetails.privateKey;
  secrets.set(pem, "private key");
  // Any line of the key's body gives it away, however the text around it was wrapped.
  for (const line of pem.split("\n")) if (line.length >= 16 && !line.startsWith("-----")) secrets.set(line, "private key line");
  // A prefix gives part of a secret away too.
  for (const [value, kind] of [...secrets]) if (value.length >= 32) secrets.set(value.slice(0, 16), `prefix of a ${kind}`);
  return secrets;
}

describe.each<SandboxSdkVersion>(["v16", "v8", "v10"])("no secret leaks anywhere (SDK %s)", (version) => {
  it("through events, errors, causes, inspect output and results of the whole flow", async () => {
    const clock = { now: T0 };
    const sandbox = createSandbox({ seed: 5, now: () => clock.now, accessTokenLifetimeSeconds: 600 });
    const recorder = recordingSdk(sandbox, version);
    const trap = trappingSdk(recorder.sdk, sandbox.contractDetails.privateKey);
    const store = new LeakyFailingStore();
    const pending = new LeakyPendingStore({ now: () => clock.now });
    const client = new WriteClient({
      sdk: trap.sdk,
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: SECRETS,
      pendingAuthorizations: pending,
      now: () => clock.now,
      refreshWindowMs: 300_000,
      storeTimeoutMs: 50,
      persistRetry: { inlineAttempts: 2, minDelayMs: 1, maxDelayMs: 5 },
      retry: { minDelayMs: 0, maxDelayMs: 1, maxRetryAfterMs: 1 },
    });
    const seen = new Recorder();
    for (const name of EVENT_NAMES) client.on(name, (payload: unknown) => seen.add(`event ${name}`, payload));
    const seenTokens = new Set<string>();
    const pollTokens = (): void => {
      for (const library of sandbox.libraries()) {
        const token = sandbox.latestToken(library.id);
        if (token !== undefined) for (const t of [token.accessToken.value, token.refreshToken.value]) seenTokens.add(t);
      }
    };

    const authorize = async (userId: string) => {
      const begin = await seen.settle(`begin ${userId}`, () => client.beginAuthorization({ userId, context: { returnTo: "/home" } }));
      if (begin === undefined) return undefined;
      const callback = await sandbox.consent(begin.url, { libraryId: `lib-${userId}` });
      await seen.settle(`complete ${userId}`, () => client.completeAuthorization(callback, { sealed: begin.sealed }));
      return { ...begin, callback };
    };

    // Authorization, and every way it can be refused.
    const alice = await authorize("alice");
    await authorize("bob");
    await authorize("carol");
    pollTokens();
    const dave = await seen.settle("begin dave", () => client.beginAuthorization({ userId: "dave" }));
    const denied = await sandbox.consent(dave!.url, { approve: false });
    await seen.settle("denied consent", () => client.completeAuthorization(denied, { sealed: dave!.sealed }));
    const flipped = alice!.sealed.slice(0, 20) + (alice!.sealed[20] === "A" ? "B" : "A") + alice!.sealed.slice(21);
    await seen.settle("tampered bundle", () => client.completeAuthorization(alice!.callback, { sealed: flipped }));
    await seen.settle("replayed callback", () => client.completeAuthorization(alice!.callback, { sealed: alice!.sealed }));
    await seen.settle("replayed without bundle", () => client.completeAuthorization(alice!.callback, { allowPendingStore: true, expectedUserId: "alice" }));
    await seen.settle("callback without bundle, default options", () => client.completeAuthorization(alice!.callback));
    await seen.settle("malformed callback", () => client.completeAuthorization({ success: "true", code: ["a", "b"] }));
    trap.arm("exchange");
    await authorize("erin");
    // Linking: alice's token is handed to getAuthorizeUrl, whose error echoes it.
    trap.arm("authorize");
    await seen.settle("begin alice again", () => client.beginAuthorization({ userId: "alice" }));
    pending.failNextSave = true;
    await seen.settle("begin with a failing pending store", () => client.beginAuthorization({ userId: "frank" }));
    // The token store fails while a new token is stored: held in memory, persisted at close.
    store.failing = "plain";
    await authorize("grace");
    store.failing = "typed";
    await authorize("heidi");
    store.failing = false;

    // Writes through faults, refreshes, a failing store, an SDK echoing secrets, and a dead refresh token.
    sandbox.faults.add({ status: 503, probability: 0.2 });
    sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, times: 2 });
    const users = ["alice", "bob", "carol"];
    let n = 0;
    const round = async (label: string) => {
      await Promise.all(users.flatMap((u) => Array.from({ length: 4 }, () => seen.settle(`${label} write ${u}`, () => client.write(u, jsonFile((n += 1)))))));
      pollTokens();
    };
    await round("plain");
    trap.arm("write");
    await round("echoing SDK error");
    trap.arm("write-terminal");
    await round("rejected by the SDK");
    trap.arm("write-hostile");
    await round("hostile SDK error");
    clock.now += 400_000; // inside the refresh window (16.x refreshes first); still valid
    trap.arm("refresh");
    await round("refresh");
    store.failing = "plain";
    clock.now += 300_000; // expired: every user's token is rotated while the store fails
    await round("failing store");
    store.failing = "typed";
    clock.now += 300_000;
    await round("failing store throwing TokenStoreError");
    store.failing = false;
    sandbox.expireAccessTokens();
    await round("expired by digi.me");
    sandbox.expireRefreshTokens({ libraryId: "lib-carol" });
    sandbox.expireAccessTokens({ libraryId: "lib-carol" });
    await seen.settle("write carol reauthorization", () => client.write("carol", jsonFile(9999)));
    for (const u of [...users, "dave", "nobody"]) await seen.settle(`status ${u}`, () => client.authorizationStatus(u));
    await seen.settle("write for nobody", () => client.write("nobody", jsonFile(1)));
    await seen.settle("close", () => client.close());
    seen.add("client", client);
    seen.add("store", store.inner);
    // The file store too: its inspect output, and its errors about a file full of tokens that it cannot read.
    const directory = await mkdtemp(nodePath.join(tmpdir(), "digime-no-leaks-"));
    try {
      const path = nodePath.join(directory, "tokens.json");
      const fileStore = new FileTokenStore({ path });
      for (const u of users) {
        const record = await store.inner.get({ userId: u, contractId: sandbox.contractDetails.contractId });
        if (record !== undefined) await fileStore.set(record, record, { expectedVersion: null });
      }
      await fileStore.listByUser("alice");
      seen.add("file store", fileStore);
      const contents = await readFile(path, "utf8");
      await writeFile(path, contents.slice(0, contents.length / 2)); // cut mid-token: not JSON
      await seen.settle("file store, truncated file", () => new FileTokenStore({ path }).get({ userId: "alice", contractId: sandbox.contractDetails.contractId }));
      await writeFile(path, contents.replace(/"version": \d+/g, '"version": "one"')); // JSON, but not a token store
      await seen.settle("file store, bad records", () => new FileTokenStore({ path }).listByUser("alice"));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    pollTokens();
    for (const u of [...users, "grace", "heidi"]) {
      const record = await store.inner.get({ userId: u, contractId: sandbox.contractDetails.contractId });
      if (record !== undefined) for (const t of [record.userAccessToken.accessToken.value, record.userAccessToken.refreshToken.value]) seenTokens.add(t);
    }

    // The flow went where it should: every kind of outcome was recorded.
    const corpus = seen.texts.map((t) => `${t.where}\n${t.text}`).join("\n");
    for (const marker of [
      "AUTHORIZATION_DENIED",
      "STATE_TAMPERED",
      "STATE_REPLAYED",
      "INVALID_CALLBACK",
      "TOKEN_EXCHANGE_FAILED",
      "AUTHORIZATION_START_FAILED",
      "DELIVERY_REJECTED",
      "TOKEN_STORE_FAILED",
      "REAUTHORIZATION_REQUIRED",
      "USER_NOT_AUTHORIZED",
      "TOKEN_STORE_CORRUPT",
      "write:retrying",
      // 10.x never shows a refreshed token, and says so once.
      version === "v10" ? "sdk:limitation" : "token:refreshed",
    ]) {
      expect(corpus.includes(marker), marker).toBe(true);
    }
    // The traps fired, and what they threw really did carry secrets.
    expect(trap.raised.length).toBeGreaterThanOrEqual(version === "v16" ? 5 : 4);
    const secrets = secretsOf(sandbox, recorder, seenTokens);
    expect(recorder.codeVerifiers.length).toBeGreaterThan(4);
    expect([...secrets.values()].filter((kind) => kind === "token").length).toBeGreaterThan(10);
    const raisedText = trap.raised.map((e) => inspect(e, { depth: Infinity })).join("\n");
    expect([...secrets.keys()].some((secret) => raisedText.includes(secret))).toBe(true);

    // And none of it reached anything the library showed.
    const leaks: string[] = [];
    for (const { where, text } of seen.texts) {
      for (const [secret, kind] of secrets) if (text.includes(secret)) leaks.push(`${kind} in ${where}`);
    }
    expect([...new Set(leaks)]).toEqual([]);
    // No line break from a foreign message reaches a message of ours (a forged log line).
    expect(seen.texts.filter((t) => t.where.endsWith("(message)") && /[\r\n\u001b]\s*WARN forged line/.test(t.text)).map((t) => t.where)).toEqual([]);
  }, 30_000);
});

describe("beginAuthorization failures", () => {
  it("are AUTHORIZATION_START_FAILED with a sanitized cause: retryable for a 503, not for a 400", async () => {
    const sandbox = createSandbox();
    const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: new MemoryTokenStore() });
    sandbox.faults.add({ operation: "authorize", status: 503, times: 1 });
    sandbox.faults.add({ operation: "authorize", status: 400, errorCode: "InvalidRequest", times: 1 });
    const transient = await client.beginAuthorization({ userId: "alice" }).catch((e: unknown) => e);
    expect(transient).toMatchObject({ code: "AUTHORIZATION_START_FAILED", retryable: true, cause: { name: "SdkCallError", httpStatus: 503 } });
    const terminal = await client.beginAuthorization({ userId: "alice" }).catch((e: unknown) => e);
    expect(terminal).toMatchObject({ code: "AUTHORIZATION_START_FAILED", retryable: false, cause: { sdkErrorCode: "InvalidRequest" } });
    await expect(client.beginAuthorization({ userId: "alice" })).resolves.toHaveProperty("url");
  });
});

describe("no secret leaks from the client's own refresher (digimeApi)", () => {
  it("through events, errors, causes and inspect output, whatever the token endpoint answers", async () => {
    const { setupServer } = await import("msw/node");
    const { http, HttpResponse } = await import("msw");
    const { generateKeyPairSync } = await import("node:crypto");
    const { SignJWT, decodeJwt } = await import("jose");
    const clock = { now: T0 };
    const sandbox = createSandbox({ seed: 9, now: () => clock.now, accessTokenLifetimeSeconds: 600 });
    const server = setupServer(...sandbox.handlers());
    server.listen({ onUnhandledFrame: "error" });
    const recorder = recordingSdk(sandbox, "v8");
    const client = new WriteClient({
      sdk: recorder.sdk,
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      stateSecret: SECRETS,
      now: () => clock.now,
      retry: { retries: 1, minDelayMs: 0, maxDelayMs: 1 },
      digimeApi: { applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl },
    });
    const seen = new Recorder();
    for (const name of EVENT_NAMES) client.on(name, (payload: unknown) => seen.add(`event ${name}`, payload));
    const seenTokens = new Set<string>();
    const forged: string[] = [];
    const pollTokens = (): void => {
      for (const library of sandbox.libraries()) {
        const token = sandbox.latestToken(library.id);
        if (token !== undefined) for (const t of [token.accessToken.value, token.refreshToken.value]) seenTokens.add(t);
      }
    };
    /** The refresh token a request to the token endpoint carries. */
    const refreshTokenOf = (request: Request) => String(decodeJwt((request.headers.get("authorization") ?? "").replace(/^Bearer /, "")).refresh_token);
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
    // Forged under the sandbox's real kid, so that the signature check is what refuses it.
    const kid = String(((await (await fetch(`${sandbox.baseUrl}jwks/oauth`)).json()) as { keys: Array<{ kid: string }> }).keys[0]?.kid);
    const forge = async (claims: Record<string, unknown>, jku: string) => {
      const jwt = await new SignJWT(claims).setProtectedHeader({ alg: "PS512", kid, jku }).sign(otherKey.privateKey);
      forged.push(jwt);
      return jwt;
    };
    const grantEchoing = (refreshToken: string) => ({
      access_token: { value: `forged-access-${refreshToken}`, expires_on: T0 / 1000 + 3600 },
      refresh_token: { value: refreshToken, expires_on: T0 / 1000 + 86_400 },
    });

    try {
      const users = ["ann", "ben", "cat", "dan", "eve", "fay"];
      for (const userId of users) {
        const begin = await client.beginAuthorization({ userId });
        await client.completeAuthorization(await sandbox.consent(begin.url, { libraryId: `lib-${userId}` }), { sealed: begin.sealed });
        await seen.settle(`first write ${userId}`, () => client.write(userId, jsonFile(0)));
      }
      pollTokens();
      clock.now += 601_000; // every access token has expired: each next write refreshes first

      await seen.settle("refreshed write", () => client.write("ann", jsonFile(1)));
      const outage = sandbox.faults.add({ endpoint: "token", status: 503, retryAfterSeconds: 0 });
      await seen.settle("refresh outage", () => client.write("ben", jsonFile(1)));
      outage.remove();
      sandbox.faults.add({ endpoint: "token", status: 401, errorCode: "InvalidToken", times: 1 });
      await seen.settle("refused refresh", () => client.write("cat", jsonFile(1)));
      // A hostile or broken endpoint: forged answers carrying the refresh token sent, and an error echoing it.
      server.use(
        http.post(`${sandbox.baseUrl}oauth/token`, async ({ request }) => HttpResponse.json({ token: await forge(grantEchoing(refreshTokenOf(request)), `${sandbox.baseUrl}jwks/oauth`) }), { once: true }),
      );
      await seen.settle("forged signature", () => client.write("dan", jsonFile(1)));
      server.use(
        http.post(`${sandbox.baseUrl}oauth/token`, async ({ request }) => HttpResponse.json({ token: await forge(grantEchoing(refreshTokenOf(request)), "https://evil.example/jwks") }), { once: true }),
      );
      await seen.settle("untrusted key set", () => client.write("eve", jsonFile(1)));
      server.use(
        http.post(`${sandbox.baseUrl}oauth/token`, ({ request }) => {
          const value = refreshTokenOf(request);
          return HttpResponse.json({ error: { code: `Bad ${value}`, message: `refresh_token ${value} is not valid; request ${request.headers.get("authorization")}` } }, { status: 400 });
        }, { once: true }),
      );
      await seen.settle("chatty error", () => client.write("fay", jsonFile(1)));
      seen.add("client", client);
      seen.add("close", await client.close());
    } finally {
      server.close();
      await sandbox.close();
    }
    pollTokens();

    const corpus = seen.texts.map((t) => `${t.where}\n${t.text}`).join("\n");
    for (const marker of ["token:refreshed", "DELIVERY_RETRIES_EXHAUSTED", "REAUTHORIZATION_REQUIRED", "TOKEN_RESPONSE_INVALID", "TOKEN_KEY_SET_UNTRUSTED", "DELIVERY_REJECTED"]) {
      expect(corpus.includes(marker), marker).toBe(true);
    }
    const secrets = secretsOf(sandbox, recorder, seenTokens);
    for (const jwt of forged) secrets.set(jwt, "JWT");
    expect(forged).toHaveLength(2);
    const leaks: string[] = [];
    for (const { where, text } of seen.texts) {
      for (const [secret, kind] of secrets) if (text.includes(secret)) leaks.push(`${kind} in ${where}`);
      if (/eyJ[A-Za-z0-9_-]{8,}/.test(text)) leaks.push(`a JWT in ${where}`);
    }
    expect([...new Set(leaks)]).toEqual([]);
  }, 30_000);
});
