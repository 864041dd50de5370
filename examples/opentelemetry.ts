/**
 * `npm run demo:trace`: the demo's write flow with OpenTelemetry on, printed
 * as a text trace. One user authorizes; then, inside an app span
 * (`POST /orders`), three files are written while the sandbox fails one
 * write with a 503 and the user's access token expires, so the trace shows
 * a retry, a proactive refresh and the token store calls, each under the
 * step that made it.
 *
 * In your app you would start the OpenTelemetry Node SDK instead
 * (docs/observability.md); here the SDK's in-memory exporter collects the
 * spans so they can be printed.
 */
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { MemoryTokenStore, WriteClient } from "../src/index.js";
import { createSandbox } from "../src/testing/index.js";

const HIDDEN = new Set(["digime.contract.id"]);

function millis(span: ReadableSpan): number {
  const [s, ns] = span.duration;
  return s * 1000 + ns / 1e6;
}

/** Render finished spans as an indented tree, children in start order. */
export function renderTrace(spans: readonly ReadableSpan[]): string {
  const children = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const startOf = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1];
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => startOf(a) - startOf(b))) {
      const attributes = Object.entries(span.attributes)
        .filter(([key]) => !HIDDEN.has(key))
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(" ");
      const status = span.status.code === api.SpanStatusCode.ERROR ? ` ERROR(${span.status.message ?? ""})` : "";
      lines.push(`${"  ".repeat(depth)}${span.name} ${millis(span).toFixed(1)} ms${status}${attributes === "" ? "" : `  ${attributes}`}`);
      for (const event of span.events) {
        const eventAttributes = Object.entries(event.attributes ?? {})
          .map(([key, value]) => `${key}=${typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : String(value)}`)
          .join(" ");
        lines.push(`${"  ".repeat(depth + 1)}· ${event.name}${eventAttributes === "" ? "" : `  ${eventAttributes}`}`);
      }
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join("\n");
}

/** Run the traced flow; returns the authorization trace and the app request's trace, rendered. */
export async function runTracedDemo(): Promise<{ authorization: string; request: string }> {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  api.context.setGlobalContextManager(contextManager);
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  try {
    let clock = Date.now();
    const sandbox = createSandbox({ now: () => clock });
    const client = new WriteClient({
      sdk: sandbox.sdk("v16"),
      contractDetails: sandbox.contractDetails,
      redirectUri: "https://app.example/digime/callback",
      tokenStore: new MemoryTokenStore(),
      now: () => clock,
      queue: { perUserConcurrency: 1, lendIdleSlots: false }, // one write of alice at a time, so the trace shows queue waits
      retry: { minDelayMs: 5, maxDelayMs: 5 },
      opentelemetry: { api, tracerProvider },
    });
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    await client.completeAuthorization(await sandbox.consent(url), { sealed });
    const authorization = renderTrace(exporter.getFinishedSpans());
    exporter.reset();

    clock += 3_600_000; // the access token has expired: the first write refreshes it
    sandbox.faults.add({ status: 503, times: 1 }); // and the first SDK write fails once
    const tracer = tracerProvider.getTracer("example-app");
    await tracer.startActiveSpan("POST /orders", async (span) => {
      const file = (n: number) => ({
        fileData: Buffer.from(JSON.stringify({ order: n })),
        fileName: `order-${n}.json`,
        fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }], reference: [`order-${n}`] },
      });
      await Promise.all([1, 2, 3].map((n) => client.write("alice", file(n), { id: `order-${n}` })));
      span.end();
    });
    await client.close();
    return { authorization, request: renderTrace(exporter.getFinishedSpans()) };
  } finally {
    await tracerProvider.shutdown();
    api.context.disable();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { authorization, request } = await runTracedDemo();
  console.log(`${authorization}\n\n${request}`);
}
