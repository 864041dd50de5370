/**
 * OpenTelemetry: with the `opentelemetry` option the client emits a span per
 * authorization step, per write (from write() to settlement, a child of the
 * caller's active span although the write runs later from the queue), per
 * attempt, per refresh and per token store call, and records the documented
 * metrics. Spans and metrics are read from the OpenTelemetry SDK's in-memory
 * exporter and a pull reader. Nothing secret is ever exported, and user ids
 * only when the app opts in.
 */
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryTokenStore, ValidationError, WriteClient, type QueueOptions, type TokenStore, type UserAccessToken } from "../../src/index.js";
import { createOpenTelemetry } from "../../src/telemetry/opentelemetry.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, setup, STATE_SECRET } from "../support/setup.js";

class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  api.context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  api.context.disable();
});
beforeEach(() => spans.reset());

/** A fresh meter provider per test, so metric values belong to one scripted run. */
function meters() {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    /** Every data point of a metric, by its attributes. */
    async points(name: string): Promise<Array<DataPoint<unknown>>> {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as Array<DataPoint<unknown>>;
    },
    async units(): Promise<Record<string, string>> {
      const { resourceMetrics } = await reader.collect();
      return Object.fromEntries(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.descriptor.unit]));
    },
  };
}

/** A token store that records every token written to it, and fails the next `failSets` writes. */
function recordingStore(): TokenStore & { tokens: UserAccessToken[]; failSets: number } {
  const inner = new MemoryTokenStore();
  const store = {
    tokens: [] as UserAccessToken[],
    failSets: 0,
    get: (key: Parameters<TokenStore["get"]>[0]) => inner.get(key),
    delete: (key: Parameters<TokenStore["delete"]>[0]) => inner.delete(key),
    listByUser: (userId: string) => inner.listByUser(userId),
    async set(...args: Parameters<TokenStore["set"]>) {
      store.tokens.push(args[1].userAccessToken);
      if (store.failSets > 0) {
        store.failSets -= 1;
        throw new Error("store down");
      }
      return inner.set(...args);
    },
  };
  return store;
}

function harness(extra: { includeUserId?: boolean } = {}, queue: QueueOptions = {}) {
  let clock = Date.UTC(2030, 0, 1);
  const m = meters();
  const store = recordingStore();
  const h = setup(
    "v16",
    {
      tokenStore: store,
      now: () => clock,
      persistRetry: { inlineAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
      queue,
      refreshCoordination: { newerTokenWaitMs: 0 },
      opentelemetry: { api, tracerProvider, meterProvider: m.meterProvider, ...extra },
    },
    { now: () => clock },
  );
  return { ...h, ...m, store, advance: (ms: number) => (clock += ms) };
}

const byName = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const sum = async (points: Promise<Array<DataPoint<unknown>>>, attributes: Record<string, unknown> = {}) =>
  (await points).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).reduce((total, p) => total + (p.value as number), 0);

describe("OpenTelemetry spans", () => {
  it("a write is one span from write() to settlement, a child of the caller's span; one child per attempt; refresh and store calls under the attempt", async () => {
    const h = harness();
    await h.authorize("alice");
    h.advance(3_600_000); // the access token is due: the next write refreshes first
    h.sandbox.faults.add({ status: 503, times: 1 });
    spans.reset();

    const tracer = tracerProvider.getTracer("app");
    const request = tracer.startSpan("POST /upload");
    const receipt = await api.context.with(api.trace.setSpan(api.context.active(), request), () => h.client.write("alice", jsonFile(1)));
    request.end();
    expect(receipt).toMatchObject({ status: "delivered", attempts: 2, tokenRefreshed: true });

    const [write] = byName("digime.write");
    expect(parentOf(write!)).toBe(request.spanContext().spanId);
    expect(write!.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(write!.attributes).toMatchObject({ "digime.write.id": receipt.id, "digime.write.outcome": "delivered", "digime.write.attempts": 2, "digime.contract.id": h.sandbox.contractDetails.contractId });
    expect(write!.status.code).toBe(api.SpanStatusCode.UNSET);
    expect(write!.events.map((e) => e.name)).toEqual(["digime.write.dequeued", "digime.write.retry"]);
    expect(write!.events[1]!.attributes).toMatchObject({ "digime.write.attempt": 1, "digime.retry.reason": "server_error" });

    const attempts = byName("digime.write.attempt");
    expect(attempts.map((a) => [a.attributes["digime.write.attempt"], parentOf(a), a.status.code])).toEqual([
      [1, write!.spanContext().spanId, api.SpanStatusCode.ERROR],
      [2, write!.spanContext().spanId, api.SpanStatusCode.UNSET],
    ]);
    expect(attempts[0]!.attributes).toMatchObject({ "error.type": "DELIVERY_ATTEMPT_FAILED", "http.response.status_code": 503 });

    const [refresh] = byName("digime.token.refresh");
    expect(parentOf(refresh!)).toBe(attempts[0]!.spanContext().spanId);
    // The new token was stored under the refresh span: a store write nested in it.
    const sets = byName("digime.token_store.set");
    expect(sets.some((s) => parentOf(s) === refresh!.spanContext().spanId)).toBe(true);
    const attemptIds = new Set(attempts.map((a) => a.spanContext().spanId));
    for (const get of byName("digime.token_store.get")) expect(attemptIds.has(parentOf(get)!) || parentOf(get) === refresh!.spanContext().spanId).toBe(true);
    await h.client.close();
  });

  it("a failed write ends its span and the attempt's with status ERROR and the error code", async () => {
    const h = harness();
    await h.authorize("alice");
    h.sandbox.faults.add({ status: 400, errorCode: "InvalidRequest", times: 1 });
    spans.reset();
    await expect(h.client.write("alice", jsonFile(1))).rejects.toMatchObject({ code: "DELIVERY_REJECTED" });
    const [write] = byName("digime.write");
    expect(write!.status).toEqual({ code: api.SpanStatusCode.ERROR, message: "DELIVERY_REJECTED" });
    expect(write!.attributes).toMatchObject({ "error.type": "DELIVERY_REJECTED", "http.response.status_code": 400, "digime.write.outcome": "failed" });
    const [attempt] = byName("digime.write.attempt");
    expect(attempt!.status.code).toBe(api.SpanStatusCode.ERROR);
    await h.client.close();
  });

  it("authorization begin and complete are spans; a denial marks complete as failed", async () => {
    const h = harness();
    await h.authorize("alice");
    const [begin] = byName("digime.authorization.begin");
    const [complete] = byName("digime.authorization.complete");
    expect(begin!.status.code).toBe(api.SpanStatusCode.UNSET);
    expect(complete!.status.code).toBe(api.SpanStatusCode.UNSET);
    // The token exchange stored the new token: a store call under complete.
    expect(byName("digime.token_store.set").some((s) => parentOf(s) === complete!.spanContext().spanId)).toBe(true);

    spans.reset();
    const { url, sealed } = await h.client.beginAuthorization({ userId: "bob" });
    await expect(h.client.completeAuthorization(await h.sandbox.consent(url, { approve: false }), { sealed })).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED" });
    expect(byName("digime.authorization.complete")[0]!.status).toEqual({ code: api.SpanStatusCode.ERROR, message: "AUTHORIZATION_DENIED" });
    await h.client.close();
  });

  it("user ids stay out of spans unless includeUserId is set", async () => {
    const off = harness();
    await off.authorize("alice");
    await off.client.write("alice", jsonFile(1));
    expect(JSON.stringify(spans.getFinishedSpans().map((s) => [s.attributes, s.events]))).not.toContain("alice");
    await off.client.close();

    spans.reset();
    const on = harness({ includeUserId: true });
    await on.authorize("carol");
    await on.client.write("carol", jsonFile(1));
    expect(byName("digime.write")[0]!.attributes["user.id"]).toBe("carol");
    expect(byName("digime.authorization.begin")[0]!.attributes["user.id"]).toBe("carol");
    expect(byName("digime.authorization.complete")[0]!.attributes["user.id"]).toBe("carol");
    await on.client.close();
  });

  it("nothing is traced without the option, even with a global tracer provider registered; `opentelemetry: true` uses the global one", async () => {
    api.trace.setGlobalTracerProvider(tracerProvider);
    try {
      const sandbox = createSandbox();
      const base = { sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, stateSecret: STATE_SECRET };
      const quiet = new WriteClient({ ...base, tokenStore: new MemoryTokenStore() });
      await quiet.beginAuthorization({ userId: "alice" });
      expect(spans.getFinishedSpans()).toEqual([]);

      const traced = new WriteClient({ ...base, tokenStore: new MemoryTokenStore(), opentelemetry: true });
      await traced.beginAuthorization({ userId: "alice" });
      expect(spans.getFinishedSpans().map((s) => s.name)).toContain("digime.authorization.begin");
    } finally {
      api.trace.disable();
    }
  });

  it("with the option but no SDK registered, the seam stays off (no-op spans cost microseconds), and turns on once one is", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const seam = createOpenTelemetry({ api });
      expect(seam.enabled).toBe(false);
      api.trace.setGlobalTracerProvider(tracerProvider);
      // Looked at again after a second, not on every write.
      expect(seam.enabled).toBe(false);
      vi.advanceTimersByTime(1_001);
      expect(seam.enabled).toBe(true);
      // Providers passed in the options are used as they are.
      api.trace.disable();
      expect(createOpenTelemetry({ api, tracerProvider }).enabled).toBe(true);
    } finally {
      api.trace.disable();
      vi.useRealTimers();
    }
  });

  it("a bad opentelemetry option is INVALID_OPTIONS naming the field", () => {
    const sandbox = createSandbox();
    const make = (opentelemetry: unknown) =>
      new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: new MemoryTokenStore(), opentelemetry } as never);
    for (const [value, path] of [
      [{ api: {} }, "opentelemetry.api"],
      [{ includeUserId: "yes" }, "opentelemetry.includeUserId"],
      [{ tracer: {} }, "opentelemetry"],
    ] as const) {
      const error = (() => {
        try {
          make(value);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe("INVALID_OPTIONS");
      expect((error as ValidationError).message).toContain(path);
    }
  });
});

describe("OpenTelemetry metrics", () => {
  it("count writes by outcome, attempts, retries by reason, refreshes and persist failures; time writes and queue waits; observe the queue", async () => {
    const h = harness();
    await h.authorize("alice");
    // Scripted: one clean write; one retried after a 503; one retried after a 429; one rejected with 400.
    await h.client.write("alice", jsonFile(1));
    h.sandbox.faults.add({ status: 503, times: 1 });
    await h.client.write("alice", jsonFile(2));
    h.sandbox.faults.add({ status: 429, retryAfterSeconds: 0, times: 1 });
    await h.client.write("alice", jsonFile(3));
    h.sandbox.faults.add({ status: 400, errorCode: "InvalidRequest", times: 1 });
    await h.client.write("alice", jsonFile(4)).catch(() => undefined);
    // A proactive refresh whose first store write fails (retried inline).
    h.advance(3_600_000);
    h.store.failSets = 1;
    await h.client.write("alice", jsonFile(5));

    expect(await sum(h.points("digime.writes"), { "digime.write.outcome": "delivered" })).toBe(4);
    expect(await sum(h.points("digime.writes"), { "digime.write.outcome": "failed", "error.type": "DELIVERY_REJECTED" })).toBe(1);
    expect(await sum(h.points("digime.write.attempts"), { "digime.attempt.outcome": "success" })).toBe(4);
    expect(await sum(h.points("digime.write.attempts"), { "digime.attempt.outcome": "failure" })).toBe(3);
    expect(await sum(h.points("digime.write.retries"), { "digime.retry.reason": "server_error" })).toBe(1);
    expect(await sum(h.points("digime.write.retries"), { "digime.retry.reason": "rate_limited" })).toBe(1);
    expect(await sum(h.points("digime.token.refreshes"), { "digime.refresh.source": "proactive", "digime.refresh.outcome": "success" })).toBe(1);
    expect(await sum(h.points("digime.token.persist_failures"))).toBe(1);

    const durations = (await h.points("digime.write.duration")).map((p) => [p.attributes["digime.write.outcome"], (p.value as Histogram).count]);
    expect(durations.sort()).toEqual([
      ["delivered", 4],
      ["failed", 1],
    ]);
    expect((await h.points("digime.write.queue_wait")).map((p) => (p.value as Histogram).count)).toEqual([5]);
    expect((await h.points("digime.queue.depth")).map((p) => p.value)).toEqual([0]);
    expect((await h.points("digime.queue.in_flight")).map((p) => p.value)).toEqual([0]);
    expect(await h.units()).toMatchObject({
      "digime.writes": "{write}",
      "digime.write.attempts": "{attempt}",
      "digime.write.retries": "{retry}",
      "digime.token.refreshes": "{refresh}",
      "digime.token.persist_failures": "{failure}",
      "digime.write.duration": "s",
      "digime.write.queue_wait": "s",
      "digime.queue.depth": "{write}",
      "digime.queue.in_flight": "{write}",
    });
    await h.client.close();
  });

  it("the queue gauges see writes waiting and running", async () => {
    const h = harness({}, { perUserConcurrency: 1, lendIdleSlots: false });
    await h.authorize("alice");
    h.sandbox.pause(); // hold SDK calls at the server
    const started = new Promise((resolve) => h.client.once("write:started", resolve));
    const writes = [1, 2, 3].map((n) => h.client.write("alice", jsonFile(n)));
    // One runs (one write per user at a time, strict lanes), two wait.
    await started;
    expect((await h.points("digime.queue.in_flight")).map((p) => p.value)).toEqual([1]);
    expect((await h.points("digime.queue.depth")).map((p) => p.value)).toEqual([2]);
    h.sandbox.resume();
    await Promise.all(writes);
    await h.client.close();
  });
});

describe("no secret in exported telemetry", () => {
  it("no token value, private key, state secret, code or user id appears in any span or metric", async () => {
    const h = harness();
    await h.authorize("alice");
    h.advance(3_600_000);
    h.sandbox.faults.add({ status: 503, times: 1 });
    await h.client.write("alice", jsonFile(1));
    h.sandbox.expireRefreshTokens();
    h.advance(3_600_000);
    await h.client.write("alice", jsonFile(2)).catch(() => undefined);
    const { url } = await h.client.beginAuthorization({ userId: "alice" });

    const exported = JSON.stringify({
      spans: spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links })),
      metrics: await Promise.all(
        ["digime.writes", "digime.write.attempts", "digime.write.retries", "digime.token.refreshes", "digime.token.persist_failures", "digime.write.duration", "digime.write.queue_wait"].map((n) =>
          h.points(n).then((points) => points.map((p) => p.attributes)),
        ),
      ),
    });
    expect(spans.getFinishedSpans().length).toBeGreaterThan(10);
    const secrets = [
      ...h.store.tokens.flatMap((t) => [t.accessToken.value, t.refreshToken.value]),
      ...h.sandbox.contractDetails.privateKey.split("\n").filter((line) => line.length > 20),
      STATE_SECRET,
      new URL(url).searchParams.get("code")!,
      "alice",
    ];
    expect(h.store.tokens.length).toBeGreaterThanOrEqual(2);
    for (const secret of secrets) expect(exported).not.toContain(secret);
    await h.client.close();
  });
});
