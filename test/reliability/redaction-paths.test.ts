/**
 * Redaction covers every token the library has seen for a user, on every
 * path out: a token the SDK hands over mid-write (`onAccessTokenChange`) and
 * then quotes in its error, and a record a store read before and now quotes
 * in a failure's cause. One test per path: the thrown error (message, cause
 * chain, inspect, JSON, stack), events, telemetry (OpenTelemetry spans) and
 * BullMQ's job fields and event stream in Redis.
 */
import { inspect } from "node:util";
import * as api from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient, type DigimeSdk, type TokenStore, type UserAccessToken, type WriteClientOptions } from "../../src/index.js";
import type { SdkPushDataOptions } from "../../src/sdk/index.js";
import { DurableWriteQueue, WriteWorker } from "../../src/bullmq.js";
import { bullmqConnection, dropKeysAndQuit, REDIS_URL, redisAvailable, uniqueSuffix } from "../support/servers.js";
import { EVENT_NAMES, jsonFile, REDIRECT_URI, setup, STATE_SECRET, type Harness } from "../support/setup.js";

const hasRedis = await redisAvailable("redaction of BullMQ job fields");

/** Another client on the same sandbox, contract and store as `h` (another process, say), every event recorded. */
function sibling(h: Harness, overrides: Partial<WriteClientOptions>) {
  const client = new WriteClient({
    sdk: h.sandbox.sdk("v16"),
    contractDetails: h.sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: h.store,
    stateSecret: STATE_SECRET,
    now: h.sandbox.now,
    retry: { minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 50 },
    ...overrides,
  });
  const recorded: Array<{ name: string; payload: unknown }> = [];
  for (const name of EVENT_NAMES) client.on(name, (payload: unknown) => recorded.push({ name, payload }));
  return { client, recorded };
}

/** Every view of `value` a log line, a JSON body or a debugger could show. */
function views(value: unknown): string[] {
  const out: string[] = [inspect(value, { depth: Infinity, showHidden: true, maxStringLength: Infinity })];
  try {
    out.push(JSON.stringify(value) ?? "");
  } catch {
    // circular: inspect covered it
  }
  for (let current: unknown = value, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth += 1) {
    out.push(current.message, current.stack ?? "", String(current), inspect(current, { depth: Infinity, showHidden: true }));
    try {
      out.push(JSON.stringify(current) ?? "");
    } catch {
      // circular
    }
  }
  return out;
}

function expectNoToken(where: string, value: unknown, tokens: readonly string[]): void {
  for (const text of views(value)) {
    for (const token of tokens) expect(text.includes(token), `${where} shows a token: ${text.slice(0, 200)}`).toBe(false);
    // Not even a recognisable fragment (the first 16 characters).
    for (const token of tokens) expect(text.includes(token.slice(0, 16)), `${where} shows a token's start`).toBe(false);
  }
}

/** A token the sandbox never issued: only the hostile SDK knows it, until it hands it over. */
function handedOver(tag: string): UserAccessToken {
  return {
    accessToken: { value: `mid-write-access-${tag}-Qm9vZ2xlIGFjY2Vzcw`, expiry: Math.floor(Date.UTC(2030, 0, 2) / 1000) },
    refreshToken: { value: `mid-write-refresh-${tag}-UmVmcmVzaCB0b2tlbg`, expiry: Math.floor(Date.UTC(2030, 1, 1) / 1000) },
  };
}

/**
 * A v16-shaped SDK over the sandbox fake whose pushData announces a new token
 * through onAccessTokenChange and then fails with an error quoting it in its
 * message, its stack, a response body and a nested cause (as a chatty HTTP
 * client would).
 */
function hostileSdk(h: Harness, token: UserAccessToken): DigimeSdk {
  const inner = h.sandbox.sdk("v16") as DigimeSdk & { pushData(options: SdkPushDataOptions): Promise<void> };
  const quote = `access_token=${token.accessToken.value} refresh_token=${token.refreshToken.value}`;
  return {
    ...inner,
    getAuthorizeUrl: inner.getAuthorizeUrl.bind(inner),
    exchangeCodeForToken: inner.exchangeCodeForToken.bind(inner),
    refreshToken: (inner as { refreshToken?: unknown }).refreshToken === undefined ? undefined : (inner as unknown as { refreshToken: (o: unknown) => Promise<UserAccessToken> }).refreshToken.bind(inner),
    async pushData(options: SdkPushDataOptions) {
      options.onAccessTokenChange?.(token);
      const error = Object.assign(new Error(`Request failed: POST /permission-access/import with ${quote}`), {
        name: "HTTPError",
        response: { statusCode: 400, body: { error: { code: "BadRequest", message: quote } } },
        cause: new Error(`socket said ${quote}`),
      });
      error.stack = `HTTPError: ${quote}\n    at pushData (hostile.js:1:1)`;
      throw error;
    },
  } as unknown as DigimeSdk;
}

/** A store that, once armed, fails every read with a cause quoting the record it holds (a driver echoing its row). */
function hostileStore(): TokenStore & { armed: boolean } {
  const inner = new MemoryTokenStore();
  const store = {
    armed: false,
    async get(key: Parameters<TokenStore["get"]>[0]) {
      const record = await inner.get(key);
      if (store.armed) throw Object.assign(new Error(`read failed for row ${JSON.stringify(record)}`), { row: record, cause: new Error(JSON.stringify(record)) });
      return record;
    },
    set: (...args: Parameters<TokenStore["set"]>) => inner.set(...args),
    delete: (key: Parameters<TokenStore["delete"]>[0]) => inner.delete(key),
    async listByUser(userId: string) {
      const records = await inner.listByUser(userId);
      if (store.armed) throw new Error(`scan failed near ${JSON.stringify(records)}`);
      return records;
    },
  };
  return store;
}

describe("a token handed over mid-write and then quoted by the SDK's error", () => {
  async function failedWrite(extra: Parameters<typeof setup>[1] = {}) {
    const h = setup("v16");
    await h.authorize("alice");
    const token = handedOver("a");
    // A client on the same sandbox and store, with the hostile SDK.
    const { client, recorded } = sibling(h, { ...extra, sdk: hostileSdk(h, token) });
    const error = await client.write("alice", jsonFile(1)).catch((e: unknown) => e);
    const known = [token.accessToken.value, token.refreshToken.value];
    // The handed-over token was taken (and stored): the library has seen it.
    expect((await h.store.get({ userId: "alice", contractId: client.contractId }))?.userAccessToken.accessToken.value).toBe(token.accessToken.value);
    await client.close();
    return { error, recorded, known };
  }

  it("is not in the thrown error: message, cause chain, inspect, JSON, stack", async () => {
    const { error, known } = await failedWrite();
    expect(error).toMatchObject({ code: "DELIVERY_REJECTED" });
    expectNoToken("thrown error", error, known);
  });

  it("is not in any event (write:failed included)", async () => {
    const { recorded, known } = await failedWrite();
    expect(recorded.find((e) => e.name === "write:failed")?.payload).toMatchObject({ error: { code: "DELIVERY_REJECTED" } });
    for (const { name, payload } of recorded) expectNoToken(`event ${name}`, payload, known);
  });

  it("is not in any span: names, attributes, status, events", async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const { known } = await failedWrite({ opentelemetry: { api, tracerProvider } });
    const finished = spans.getFinishedSpans();
    expect(finished.length).toBeGreaterThan(0);
    for (const span of finished) expectNoToken(`span ${span.name}`, { name: span.name, attributes: span.attributes, status: span.status, events: span.events }, known);
  });

  it.skipIf(!hasRedis)("is not in BullMQ's failedReason, stacktrace or event stream", async () => {
    const queueName = `redaction-${uniqueSuffix()}`;
    const redis = new Redis(REDIS_URL);
    const h = setup("v16");
    await h.authorize("alice");
    const token = handedOver("durable");
    const { client } = sibling(h, { sdk: hostileSdk(h, token) });
    const connection = bullmqConnection();
    const queue = new DurableWriteQueue({ connection, queueName, attempts: 1 });
    const worker = new WriteWorker({ client, connection, queueName });
    try {
      const { id } = await queue.enqueue("alice", jsonFile(1), { id: "hostile" });
      await expect(queue.result("alice", id)).rejects.toMatchObject({ code: "DELIVERY_REJECTED" });
      const keys = await redis.keys(`bull:${queueName}:*`);
      const dump: string[] = [];
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === "hash") dump.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === "stream") dump.push(JSON.stringify(await redis.xrange(key, "-", "+")));
        else if (type === "list") dump.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === "zset") dump.push(JSON.stringify(await redis.zrange(key, "0", "-1")));
        else if (type === "string") dump.push((await redis.get(key)) ?? "");
      }
      const everything = dump.join("\n");
      expect(everything).toContain("failedReason");
      expectNoToken("BullMQ keys", everything, [token.accessToken.value, token.refreshToken.value]);
    } finally {
      await worker.close();
      await queue.close();
      await client.close();
      await h.client.close();
      await dropKeysAndQuit(redis, `bull:${queueName}:*`);
    }
  });
});

describe("a record read from a store, quoted by the store's later failure", () => {
  it("is not in the thrown error, its causes, or any event", async () => {
    const store = hostileStore();
    let now = Date.UTC(2030, 0, 1);
    const first = setup("v16", { tokenStore: store, now: () => now }, { now: () => now });
    await first.authorize("alice");
    // Another client (another process, say) reads the record once: from now on it has seen these tokens.
    const { client, recorded } = sibling(first, { now: () => now, idleUserMs: 10 });
    await expect(client.write("alice", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
    // The user goes idle and the keeper lets go of its state: the next read starts from nothing it remembers.
    await expect.poll(() => inspect(client), { timeout: 5_000, interval: 20 }).toContain("usersInMemory: 0");
    const record = (await store.get({ userId: "alice", contractId: client.contractId }))!;
    const known = [record.userAccessToken.accessToken.value, record.userAccessToken.refreshToken.value];
    store.armed = true;
    const h = { client };
    // Past the access token's hour: the keeper re-reads the store before refreshing, and the read fails quoting the row.
    now += 2 * 3600 * 1000;
    const failures = [
      await h.client.write("alice", jsonFile(2)).catch((e: unknown) => e),
      await h.client.beginAuthorization({ userId: "alice" }).catch((e: unknown) => e),
      await h.client.authorizationStatus("alice").catch((e: unknown) => e),
    ];
    expect(failures.some((f) => f instanceof Error)).toBe(true);
    for (const [i, failure] of failures.entries()) expectNoToken(`failure ${i}`, failure, known);
    for (const { name, payload } of recorded) expectNoToken(`event ${name}`, payload, known);
    expect(failures[1]).toMatchObject({ code: "TOKEN_STORE_FAILED" });
    await Promise.all([first.client.close(), client.close()]);
  });
});
