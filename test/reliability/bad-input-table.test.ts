/**
 * The inventory of bad input: every public entry point, every field, with
 * wrong types, empty strings, huge values, prototype-pollution keys (own
 * `__proto__` / `constructor` keys as JSON.parse makes them) and data that is
 * not a Buffer. Each row must be refused with a ValidationError carrying a
 * stable code and naming the field, without reaching digi.me; the client keeps
 * working afterwards. (test/client/bad-input.test.ts holds further write cases.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import nodePath from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileTokenStore, MemoryTokenStore, ValidationError, WriteClient, type ErrorCode, type WriteClientOptions } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { PostgresPendingAuthorizationStore, PostgresTokenStore } from "../../src/postgres.js";
import { RedisPendingAuthorizationStore, RedisTokenStore } from "../../src/redis.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";

const sandbox = createSandbox();
const valid: WriteClientOptions = {
  sdk: sandbox.sdk("v16"),
  contractDetails: sandbox.contractDetails,
  redirectUri: REDIRECT_URI,
  tokenStore: new MemoryTokenStore(),
  stateSecret: STATE_SECRET,
};
const client = new WriteClient({ ...valid, tokenStore: new MemoryTokenStore(), retry: { minDelayMs: 0, maxDelayMs: 1 } });
const memoryStore = new MemoryTokenStore();
const fileStoreDirectory = mkdtempSync(nodePath.join(tmpdir(), "digime-bad-input-"));
const fileStore = new FileTokenStore({ path: nodePath.join(fileStoreDirectory, "tokens.json") });
// Server-backed stores that never connect: every row below is refused before a command is sent.
const offlinePool = { query: () => Promise.reject(new Error("no query expected")) } as never;
const redisStore = new RedisTokenStore({ connection: { lazyConnect: true } });
const postgresStore = new PostgresTokenStore({ pool: offlinePool });
afterAll(() => rmSync(fileStoreDirectory, { recursive: true, force: true }));
const token = { accessToken: { value: "access-token-value", expiry: 2_000_000_000 }, refreshToken: { value: "refresh-token-value", expiry: 2_100_000_000 } };
const key = { userId: "alice", contractId: "contract-1" };
const huge = (n: number) => "x".repeat(n);
/** An object whose only "own" fields sit under an own `__proto__` key, the way JSON.parse makes it. */
const underProto = (fields: Record<string, unknown>, rest: Record<string, unknown> = {}) =>
  Object.assign(JSON.parse(`{"__proto__": ${JSON.stringify(fields)}, "constructor": {"prototype": {"polluted": true}}}`) as object, rest);
const file = jsonFile(1);
const { fileData: _fd, ...fileWithoutData } = file;
const { fileName: _fn, ...fileWithoutName } = file;

interface Row {
  /** The entry point. */
  entry: string;
  /** What is wrong. */
  input: string;
  call: () => unknown;
  code: ErrorCode;
  /** The field the error must name. */
  field: string;
}

const rows: Row[] = [];
const add = (entry: string, code: ErrorCode, cases: Array<[input: string, call: () => unknown, field: string]>) => {
  for (const [input, call, field] of cases) rows.push({ entry, input, call, code, field });
};

// --- new WriteClient(options) ---
const options = (change: Record<string, unknown>) => () => new WriteClient({ ...valid, ...change } as never);
const { tokenStore: _ts, ...validWithoutStore } = valid;
add("new WriteClient(options)", "INVALID_OPTIONS", [
  ["options: a string", () => new WriteClient("options" as never), "options"],
  ["options: an array", () => new WriteClient([] as never), "options"],
  ["options: every field only under __proto__", () => new WriteClient(underProto({ ...validWithoutStore, tokenStore: {} }) as never), "options.sdk"],
  ["tokenStore only under __proto__", () => new WriteClient(underProto({ tokenStore: {} }, validWithoutStore) as never), "options.tokenStore"],
  ["sdk: a string", options({ sdk: "sdk" }), "options.sdk"],
  ["sdk: write is not a function", options({ sdk: { getAuthorizeUrl() {}, exchangeCodeForToken() {}, write: 1 } }), "options.sdk"],
  ["contractDetails: null", options({ contractDetails: null }), "options.contractDetails"],
  ["contractId: a number", options({ contractDetails: { ...sandbox.contractDetails, contractId: 42 } }), "options.contractDetails.contractId"],
  ["contractId: huge", options({ contractDetails: { ...sandbox.contractDetails, contractId: huge(100_000) } }), "options.contractDetails.contractId"],
  ["privateKey: empty", options({ contractDetails: { ...sandbox.contractDetails, privateKey: "" } }), "options.contractDetails.privateKey"],
  ["privateKey: huge", options({ contractDetails: { ...sandbox.contractDetails, privateKey: `-----BEGIN PRIVATE KEY-----\n${huge(1_000_000)}` } }), "options.contractDetails.privateKey"],
  ["privateKey: a Buffer", options({ contractDetails: { ...sandbox.contractDetails, privateKey: Buffer.from(sandbox.contractDetails.privateKey) } }), "options.contractDetails.privateKey"],
  ["redirectUri: empty", options({ redirectUri: "" }), "options.redirectUri"],
  ["redirectUri: ftp", options({ redirectUri: "ftp://app.example/cb" }), "options.redirectUri"],
  ["redirectUri: huge", options({ redirectUri: `https://app.example/${huge(100_000)}` }), "options.redirectUri"],
  ["errorRedirectUri: relative", options({ errorRedirectUri: "/error" }), "options.errorRedirectUri"],
  ["tokenStore: get is not a function", options({ tokenStore: { get: 1, set() {}, delete() {}, listByUser() {} } }), "options.tokenStore.get"],
  ["stateSecret: a number", options({ stateSecret: 12345678901234567890 }), "options.stateSecret"],
  ["stateSecret: empty", options({ stateSecret: "" }), "options.stateSecret"],
  ["stateSecret: huge", options({ stateSecret: huge(1_000_000) }), "options.stateSecret"],
  ["stateSecret: 1,000 secrets", options({ stateSecret: Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(40, "s")) }), "options.stateSecret"],
  ["stateSecret: 43 × a (guessable)", options({ stateSecret: "a".repeat(43) }), "options.stateSecret"],
  ["requireSealedBundle: a string", options({ requireSealedBundle: "yes" }), "options.requireSealedBundle"],
  ["pendingAuthorizations: no consume", options({ pendingAuthorizations: { save() {} } }), "options.pendingAuthorizations.consume"],
  ["authorizationTtlMs: NaN", options({ authorizationTtlMs: Number.NaN }), "options.authorizationTtlMs"],
  ["authorizationTtlMs: a year", options({ authorizationTtlMs: 365 * 24 * 3600 * 1000 }), "options.authorizationTtlMs"],
  ["queue: a string", options({ queue: "fast" }), "options.queue"],
  ["queue.concurrency: huge", options({ queue: { concurrency: 1e9 } }), "options.queue.concurrency"],
  ["queue.perUserConcurrency: 0", options({ queue: { perUserConcurrency: 0 } }), "options.queue.perUserConcurrency"],
  ["queue.maxQueued: Infinity", options({ queue: { maxQueued: Number.POSITIVE_INFINITY } }), "options.queue.maxQueued"],
  ["queue.maxQueuedPerUser: 0", options({ queue: { maxQueuedPerUser: 0 } }), "options.queue.maxQueuedPerUser"],
  ["queue.maxQueuedBytes: Infinity", options({ queue: { maxQueuedBytes: Number.POSITIVE_INFINITY } }), "options.queue.maxQueuedBytes"],
  ["retry.retries: huge", options({ retry: { retries: 1e6 } }), "options.retry.retries"],
  ["retry.maxDelayMs: negative", options({ retry: { maxDelayMs: -1 } }), "options.retry.maxDelayMs"],
  ["retry.factor: 0", options({ retry: { factor: 0 } }), "options.retry.factor"],
  ["retry.jitter: a string", options({ retry: { jitter: "yes" } }), "options.retry.jitter"],
  ["retry.maxRetryAfterMs: NaN", options({ retry: { maxRetryAfterMs: Number.NaN } }), "options.retry.maxRetryAfterMs"],
  ["refreshWindowMs: a string", options({ refreshWindowMs: "60s" }), "options.refreshWindowMs"],
  ["persistRetry.inlineAttempts: 0", options({ persistRetry: { inlineAttempts: 0 } }), "options.persistRetry.inlineAttempts"],
  ["persistRetry.minDelayMs: huge", options({ persistRetry: { minDelayMs: 1e12 } }), "options.persistRetry.minDelayMs"],
  ["storeTimeoutMs: 0", options({ storeTimeoutMs: 0 }), "options.storeTimeoutMs"],
  ["storeTimeoutMs: a string", options({ storeTimeoutMs: "10s" }), "options.storeTimeoutMs"],
  ["sdkGeneration: a number", options({ sdkGeneration: 3 }), "options.sdkGeneration"],
  ["now: a number", options({ now: Date.now() }), "options.now"],
]);

// --- client.beginAuthorization(input) ---
add("client.beginAuthorization(input)", "INVALID_ARGUMENT", [
  ["input: null", () => client.beginAuthorization(null as never), "input"],
  ["input: a string", () => client.beginAuthorization("alice" as never), "input"],
  ["userId only under __proto__", () => client.beginAuthorization(underProto({ userId: "alice" }) as never), "input.userId"],
  ["userId: an object", () => client.beginAuthorization({ userId: { id: "alice" } } as never), "input.userId"],
  ["userId: huge", () => client.beginAuthorization({ userId: huge(100_000) }), "input.userId"],
  ["context: circular", () => client.beginAuthorization({ userId: "a", context: (() => { const c: Record<string, unknown> = {}; c.self = c; return c; })() }), "input.context"],
  ["context: a function", () => client.beginAuthorization({ userId: "a", context: () => 1 }), "input.context"],
  ["context: huge", () => client.beginAuthorization({ userId: "a", context: huge(5000) }), "input.context"],
  ["serviceId: a string", () => client.beginAuthorization({ userId: "a", serviceId: "420" } as never), "input.serviceId"],
  ["serviceId: Infinity", () => client.beginAuthorization({ userId: "a", serviceId: Number.POSITIVE_INFINITY }), "input.serviceId"],
  ["ttlMs: 0", () => client.beginAuthorization({ userId: "a", ttlMs: 0 }), "input.ttlMs"],
  ["ttlMs: huge", () => client.beginAuthorization({ userId: "a", ttlMs: 1e15 }), "input.ttlMs"],
]);

// --- client.completeAuthorization(callback, options) ---
const callback = `${REDIRECT_URI}?success=true&code=abc&state=${"s".repeat(43)}`;
add("client.completeAuthorization(callback, options)", "INVALID_CALLBACK", [
  ["callback: undefined", () => client.completeAuthorization(undefined as never), "callback.url"],
  ["callback: a number", () => client.completeAuthorization(42 as never), "callback.url"],
  ["callback: empty string", () => client.completeAuthorization(""), "callback.success"],
  ["callback: huge string", () => client.completeAuthorization(`${callback}&x=${huge(20_000)}`), "callback.url"],
  ["callback: every parameter only under __proto__", () => client.completeAuthorization(underProto({ success: "true", code: "abc", state: "s".repeat(43) }) as never), "callback.success"],
  ["callback: 100,000 unknown keys", () => client.completeAuthorization(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, "v"]))), "callback.success"],
  ["callback.code: a number", () => client.completeAuthorization({ success: "true", code: 42, state: "s".repeat(43) }), "callback.code"],
  ["callback.code: empty", () => client.completeAuthorization({ success: "true", code: "", state: "s".repeat(43) }), "callback.code"],
  ["callback.code: huge", () => client.completeAuthorization({ success: "true", code: huge(5000), state: "s".repeat(43) }), "callback.code"],
  ["callback.state: duplicated", () => client.completeAuthorization(`${callback}&state=${"t".repeat(43)}`), "callback.state"],
  ["callback.postboxId: huge", () => client.completeAuthorization({ success: "true", code: "abc", state: "s".repeat(43), postboxId: huge(1000) }), "callback.postboxId"],
  ["callback.errorCode: an object", () => client.completeAuthorization({ success: "false", errorCode: { code: "x" } }), "callback.errorCode"],
  ["callback.errorCode: a forged log line", () => client.completeAuthorization({ success: "false", errorCode: "UserCancelled\r\nINFO ok", state: "s".repeat(43) }), "callback.errorCode"],
  ["callback.state: not base64url on a denial", () => client.completeAuthorization({ success: "false", errorCode: "UserCancelled", state: "a b" }), "callback.state"],
]);
add("client.completeAuthorization(callback, options)", "INVALID_ARGUMENT", [
  ["options: a string", () => client.completeAuthorization(callback, "sealed" as never), "options"],
  ["options.sealed: a number", () => client.completeAuthorization(callback, { sealed: 42 } as never), "options.sealed"],
  ["options.sealed: empty", () => client.completeAuthorization(callback, { sealed: "" }), "options.sealed"],
  ["options.sealed: huge", () => client.completeAuthorization(callback, { sealed: huge(20_000) }), "options.sealed"],
  ["options.expectedUserId: empty", () => client.completeAuthorization(callback, { expectedUserId: "" }), "options.expectedUserId"],
  ["options.expectedUserId: a number", () => client.completeAuthorization(callback, { expectedUserId: 7 } as never), "options.expectedUserId"],
  ["options.expectedUserId: huge", () => client.completeAuthorization(callback, { expectedUserId: huge(1000) }), "options.expectedUserId"],
  ["options.requireSealed: a string", () => client.completeAuthorization(callback, { requireSealed: "yes" } as never), "options.requireSealed"],
  ["options.allowPendingStore: a string", () => client.completeAuthorization(callback, { allowPendingStore: "yes" } as never), "options.allowPendingStore"],
  ["options.expectedUserId: missing beside allowPendingStore", () => client.completeAuthorization(callback, { allowPendingStore: true }), "options.expectedUserId"],
  ["options.expectedUserId: a lone surrogate", () => client.completeAuthorization(callback, { expectedUserId: "Jos\uD800" }), "options.expectedUserId"],
  ["options.expectedUserId: a NUL", () => client.completeAuthorization(callback, { expectedUserId: "a\u0000b" }), "options.expectedUserId"],
]);

// --- client.write(userId, fileMeta, options) ---
const write = (userId: unknown, meta: unknown, opts?: unknown) => () => client.write(userId as never, meta as never, opts as never);
const withData = (fileData: unknown) => write("alice", { ...file, fileData });
add("client.write(userId, fileMeta, options)", "INVALID_ARGUMENT", [
  ["userId: undefined", write(undefined, file), "userId"],
  ["userId: a number", write(7, file), "userId"],
  ["userId: huge", write(huge(100_000), file), "userId"],
  ["fileMeta: a string", write("alice", "file.json"), "fileMeta"],
  ["fileMeta: no fileData", write("alice", fileWithoutData), "fileMeta.fileData"],
  ["fileMeta: fileName only under __proto__", write("alice", underProto({ fileName: "x.json" }, fileWithoutName)), "fileMeta.fileName"],
  ["fileData: a string", withData("bytes"), "fileMeta.fileData"],
  ["fileData: an array of bytes", withData([104, 105]), "fileMeta.fileData"],
  ["fileData: an ArrayBuffer", withData(new ArrayBuffer(2)), "fileMeta.fileData"],
  ["fileData: a DataView", withData(new DataView(new ArrayBuffer(2))), "fileMeta.fileData"],
  ["fileData: an Int16Array", withData(new Int16Array(2)), "fileMeta.fileData"],
  ["fileData: a JSON-serialised Buffer", withData(JSON.parse(JSON.stringify(Buffer.from("hi")))), "fileMeta.fileData"],
  ["fileData: a Blob", withData(new Blob(["hi"])), "fileMeta.fileData"],
  ["fileData: a stream-like object", withData({ pipe() {}, on() {}, read() {} }), "fileMeta.fileData"],
  ["fileData: a promise of a Buffer", withData(Promise.resolve(Buffer.from("hi"))), "fileMeta.fileData"],
  ["fileData: a factory returning a string", withData(() => "bytes"), "fileMeta.fileData"],
  ["fileData: a factory returning a Buffer", withData(() => Buffer.from("bytes")), "fileMeta.fileData"],
  ["fileName: a number", write("alice", { ...file, fileName: 1 }), "fileMeta.fileName"],
  ["fileName: huge", write("alice", { ...file, fileName: huge(5000) }), "fileMeta.fileName"],
  ["fileName: a newline", write("alice", { ...file, fileName: "a\nb.json" }), "fileMeta.fileName"],
  ["fileDescriptor: a string", write("alice", { ...file, fileDescriptor: "application/json" }), "fileMeta.fileDescriptor"],
  ["mimeType only under __proto__", write("alice", { ...file, fileDescriptor: underProto({ mimeType: "application/json" }, { accounts: [] }) }), "fileMeta.fileDescriptor.mimeType"],
  ["mimeType: empty", write("alice", { ...file, fileDescriptor: { mimeType: "", accounts: [] } }), "fileMeta.fileDescriptor.mimeType"],
  ["mimeType: huge", write("alice", { ...file, fileDescriptor: { mimeType: `a/${huge(300)}`, accounts: [] } }), "fileMeta.fileDescriptor.mimeType"],
  ["accounts: 1,001 entries", write("alice", { ...file, fileDescriptor: { mimeType: "a/b", accounts: Array.from({ length: 1001 }, () => ({ accountId: "a" })) } }), "fileMeta.fileDescriptor.accounts"],
  ["accounts[0]: null", write("alice", { ...file, fileDescriptor: { mimeType: "a/b", accounts: [null] } }), "fileMeta.fileDescriptor.accounts[0]"],
  ["accountId: huge", write("alice", { ...file, fileDescriptor: { mimeType: "a/b", accounts: [{ accountId: huge(2000) }] } }), "fileMeta.fileDescriptor.accounts[0].accountId"],
  ["reference: a string", write("alice", { ...file, fileDescriptor: { mimeType: "a/b", accounts: [], reference: "ref" } }), "fileMeta.fileDescriptor.reference"],
  ["tags: 1,001 entries", write("alice", { ...file, fileDescriptor: { mimeType: "a/b", accounts: [], tags: Array.from({ length: 1001 }, () => "t") } }), "fileMeta.fileDescriptor.tags"],
  ["options: a number", write("alice", file, 5), "options"],
  ["options.priority: Infinity", write("alice", file, { priority: Number.POSITIVE_INFINITY }), "options.priority"],
  ["options.id: huge", write("alice", file, { id: huge(1000) }), "options.id"],
  ["options.id: a number", write("alice", file, { id: 42 }), "options.id"],
  ["options.signal: an AbortController", write("alice", file, { signal: new AbortController() }), "options.signal"],
]);

// --- client.authorizationStatus(userId), client.close(options) ---
add("client.authorizationStatus(userId)", "INVALID_ARGUMENT", [
  ["userId: undefined", () => client.authorizationStatus(undefined as never), "userId"],
  ["userId: empty", () => client.authorizationStatus(""), "userId"],
  ["userId: huge", () => client.authorizationStatus(huge(100_000)), "userId"],
  ["userId: an array", () => client.authorizationStatus(["alice"] as never), "userId"],
]);
add("client.close(options)", "INVALID_ARGUMENT", [
  ["options: a number", () => client.close(1 as never), "options"],
  ["options: null", () => client.close(null as never), "options"],
  ["options.drain: a string", () => client.close({ drain: "false" } as never), "options.drain"],
  ["options.drain: only under __proto__, and wrong", () => client.close(underProto({ drain: "x" }, { drain: 0 }) as never), "options.drain"],
]);

// --- token stores ---
add("new MemoryTokenStore(options)", "INVALID_OPTIONS", [
  ["options: null", () => new MemoryTokenStore(null as never), "options"],
  ["options: a string", () => new MemoryTokenStore("now" as never), "options"],
  ["options.now: a number", () => new MemoryTokenStore({ now: 5 as never }), "options.now"],
]);
add("new FileTokenStore(options)", "INVALID_OPTIONS", [
  ["options: undefined", () => new FileTokenStore(undefined as never), "options"],
  ["options.path: missing, only under __proto__", () => new FileTokenStore(underProto({ path: "/tmp/x.json" }) as never), "options.path"],
  ["options.path: empty", () => new FileTokenStore({ path: "" }), "options.path"],
  ["options.path: a URL object", () => new FileTokenStore({ path: new URL("file:///tmp/x.json") as never }), "options.path"],
  ["options.path: huge", () => new FileTokenStore({ path: `/tmp/${huge(100_000)}` }), "options.path"],
  ["options.path: a NUL character", () => new FileTokenStore({ path: "/tmp/a\u0000b.json" }), "options.path"],
  ["options.fileMode: too large", () => new FileTokenStore({ path: "/tmp/x.json", fileMode: 0o1000 }), "options.fileMode"],
  ["options.fileMode: a string", () => new FileTokenStore({ path: "/tmp/x.json", fileMode: "600" as never }), "options.fileMode"],
  ["options.lockTimeoutMs: negative", () => new FileTokenStore({ path: "/tmp/x.json", lockTimeoutMs: -1 }), "options.lockTimeoutMs"],
  ["options.now: a string", () => new FileTokenStore({ path: "/tmp/x.json", now: "Date.now" as never }), "options.now"],
]);
add("new RedisTokenStore(options) / new RedisPendingAuthorizationStore(options)", "INVALID_OPTIONS", [
  ["options: undefined", () => new RedisTokenStore(undefined as never), "options"],
  ["options.client and options.connection both", () => new RedisTokenStore({ client: {} as never, connection: "redis://x" }), "options.client"],
  ["options.client: not a client", () => new RedisPendingAuthorizationStore({ client: { get: () => 1 } as never }), "options.client"],
  ["options.connection: a number", () => new RedisTokenStore({ connection: 6379 as never }), "options.connection"],
  ["options.keyPrefix: empty", () => new RedisPendingAuthorizationStore({ connection: { lazyConnect: true }, keyPrefix: "" }), "options.keyPrefix"],
  ["options.keyPrefix: huge", () => new RedisTokenStore({ connection: { lazyConnect: true }, keyPrefix: huge(100_000) }), "options.keyPrefix"],
  ["options.keyprefix: misspelt", () => new RedisTokenStore({ connection: { lazyConnect: true }, keyprefix: "x" } as never), "options.keyprefix"],
]);
add("new PostgresTokenStore(options) / new PostgresPendingAuthorizationStore(options)", "INVALID_OPTIONS", [
  ["options: null", () => new PostgresTokenStore(null as never), "options"],
  ["options.pool: missing, only under __proto__", () => new PostgresTokenStore(underProto({ pool: offlinePool }) as never), "options.pool"],
  ["options.table: SQL", () => new PostgresTokenStore({ pool: offlinePool, table: 'x"; DROP TABLE users; --' }), "options.table"],
  ["options.table: upper case", () => new PostgresPendingAuthorizationStore({ pool: offlinePool, table: "Pending" }), "options.table"],
  ["options.schema: huge", () => new PostgresTokenStore({ pool: offlinePool, schema: huge(100_000) }), "options.schema"],
]);
add("RedisPendingAuthorizationStore / PostgresPendingAuthorizationStore save / consume", "INVALID_ARGUMENT", [
  ["save(bundle): state too short", () => new RedisPendingAuthorizationStore({ connection: { lazyConnect: true } }).save({ state: "short", codeVerifier: "v", userId: "u", contractId: "c", expiresAt: 1 }), "bundle.state"],
  ["save(bundle): expiresAt a string", () => new PostgresPendingAuthorizationStore({ pool: offlinePool }).save({ state: huge(20), codeVerifier: "v", userId: "u", contractId: "c", expiresAt: "1" as never }), "bundle.expiresAt"],
  ["consume(state): huge", () => new RedisPendingAuthorizationStore({ connection: { lazyConnect: true } }).consume(huge(100_000), 1), "state"],
  ["consume(usedUntil): NaN", () => new PostgresPendingAuthorizationStore({ pool: offlinePool }).consume(huge(20), Number.NaN), "usedUntil"],
]);
for (const [name, store] of [
  ["MemoryTokenStore", memoryStore],
  ["FileTokenStore", fileStore],
  ["RedisTokenStore", redisStore],
  ["PostgresTokenStore", postgresStore],
] as const) {
  const set =
    (k: unknown, credentials: unknown, ...opts: [unknown?]) =>
    () =>
      store.set(k as never, credentials as never, (opts.length === 0 ? { expectedVersion: null } : opts[0]) as never);
  const withToken = (change: Record<string, unknown>) => set(key, { userAccessToken: { ...token, ...change } });
  add(`${name} get / set / delete / listByUser`, "INVALID_ARGUMENT", [
    ["get(key): a string", () => store.get("alice" as never), "key"],
    ["get(key): userId only under __proto__", () => store.get(underProto({ userId: "alice" }, { contractId: "c" }) as never), "key.userId"],
    ["get(key): contractId a number", () => store.get({ userId: "alice", contractId: 1 } as never), "key.contractId"],
    ["get(key): userId huge", () => store.get({ userId: huge(100_000), contractId: "c" }), "key.userId"],
    ["set(key): userId empty", set({ userId: "", contractId: "c" }, { userAccessToken: token }), "key.userId"],
    ["set(credentials): null", set(key, null), "credentials"],
    ["set(credentials): userAccessToken only under __proto__", set(key, underProto({ userAccessToken: token })), "credentials.userAccessToken"],
    ["set(credentials): access token value empty", withToken({ accessToken: { value: "", expiry: 1 } }), "credentials.userAccessToken.accessToken.value"],
    ["set(credentials): access token value huge", withToken({ accessToken: { value: huge(1_000_000), expiry: 1 } }), "credentials.userAccessToken.accessToken.value"],
    ["set(credentials): refresh token expiry a string", withToken({ refreshToken: { value: "r", expiry: "2100000000" } }), "credentials.userAccessToken.refreshToken.expiry"],
    ["set(credentials): refresh token expiry NaN", withToken({ refreshToken: { value: "r", expiry: Number.NaN } }), "credentials.userAccessToken.refreshToken.expiry"],
    ["set(credentials): token a Buffer", set(key, { userAccessToken: Buffer.from(JSON.stringify(token)) }), "credentials.userAccessToken.accessToken"],
    ["set(credentials): postboxId empty", set(key, { userAccessToken: token, postboxId: "" }), "credentials.postboxId"],
    ["set(credentials): publicKey huge", set(key, { userAccessToken: token, publicKey: huge(1_000_000) }), "credentials.publicKey"],
    ["set(options): missing", set(key, { userAccessToken: token }, undefined), "options"],
    ["set(options): expectedVersion 0", set(key, { userAccessToken: token }, { expectedVersion: 0 }), "options.expectedVersion"],
    ["set(options): expectedVersion a string", set(key, { userAccessToken: token }, { expectedVersion: "1" }), "options.expectedVersion"],
    ["set(options): expectedVersion only under __proto__", set(key, { userAccessToken: token }, underProto({ expectedVersion: null })), "options.expectedVersion"],
    ["delete(key): undefined", () => store.delete(undefined as never), "key"],
    ["delete(key): contractId empty", () => store.delete({ userId: "alice", contractId: "" }), "key.contractId"],
    ["listByUser(userId): a number", () => store.listByUser(5 as never), "userId"],
    ["listByUser(userId): huge", () => store.listByUser(huge(100_000)), "userId"],
  ]);
}

async function outcomeOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return "accepted";
  } catch (error) {
    return error;
  }
}

describe("every public entry point refuses bad input with a typed error naming the field", () => {
  // Alice is authorized, so write rows fail on their input, not on her credentials.
  beforeAll(async () => {
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    await client.completeAuthorization(await sandbox.consent(url), { sealed });
    sandbox.resetCounters();
  });

  it.each(rows.map((row) => [`${row.entry}: ${row.input}`, row] as const))("%s", async (_name, row) => {
    const before = { ...sandbox.counters };
    const error = await outcomeOf(row.call);
    expect(error).toBeInstanceOf(ValidationError);
    const refusal = error as ValidationError;
    expect(refusal.code).toBe(row.code);
    expect(refusal.retryable).toBe(false);
    expect(refusal.issues.map((issue) => issue.path), refusal.message).toContain(row.field);
    expect(refusal.message).toContain(row.field);
    // The message names the field, never the value: no huge or secret input is echoed.
    expect(refusal.message.length).toBeLessThan(10_000);
    for (const secret of [token.accessToken.value, sandbox.contractDetails.privateKey.split("\n")[1]!]) expect(refusal.message).not.toContain(secret);
    // Nothing reached digi.me.
    expect(sandbox.counters).toEqual(before);
  });
});

describe("after all of it", () => {
  it("nothing was polluted, odd but valid names work, and the client still delivers", async () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
    // Pollution keys beside valid input are ignored, not obeyed.
    const ignored = new WriteClient(underProto({ stateSecret: "short", queue: { concurrency: 0 } }, { ...valid, tokenStore: new MemoryTokenStore() }) as unknown as WriteClientOptions);
    expect(ignored.contractId).toBe(sandbox.contractDetails.contractId);
    expect(new MemoryTokenStore(underProto({ now: 5 }) as never)).toBeInstanceOf(MemoryTokenStore);
    // User ids that are Object.prototype names are ordinary ids.
    for (const userId of ["bob", "__proto__", "constructor", "hasOwnProperty"]) {
      const { url, sealed } = await client.beginAuthorization({ userId, context: underProto({ admin: true }) });
      const completed = await client.completeAuthorization(await sandbox.consent(url), { sealed });
      expect(completed.userId).toBe(userId);
      await expect(client.write(userId, jsonFile(1), { priority: 1 })).resolves.toMatchObject({ status: "delivered", userId });
      expect(await client.authorizationStatus(userId)).toMatchObject({ status: "authorized" });
    }
    // A streamed write and a Uint8Array view still work.
    await expect(client.write("alice", { ...file, fileData: () => Readable.from([Buffer.from("streamed")]) })).resolves.toMatchObject({ status: "delivered" });
    await expect(client.write("alice", { ...file, fileData: new Uint8Array([1, 2, 3]) })).resolves.toMatchObject({ status: "delivered" });
    // Stores keep working too.
    for (const store of [memoryStore, fileStore]) {
      await expect(store.set(key, { userAccessToken: token }, { expectedVersion: null })).resolves.toMatchObject({ status: "stored" });
      await expect(store.listByUser("alice")).resolves.toHaveLength(1);
      await expect(store.delete(key)).resolves.toBe(true);
    }
    // The bad close() calls did not close the client.
    await expect(client.close()).resolves.toEqual({ unsavedTokens: [] });
    await expect(client.write("alice", file)).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
  });
});
