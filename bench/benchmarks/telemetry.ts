/**
 * 11. What OpenTelemetry costs: CPU per write (process.cpuUsage, as figure 2)
 * over 100 users, concurrency 16, zero SDK latency, in three arms that
 * alternate round by round:
 * - `off`: no `opentelemetry` option (the default; the seam is a no-op);
 * - `api`: `opentelemetry: { api }` with no SDK registered (the API's no-op
 *   tracer and meter);
 * - `sdk`: the OpenTelemetry SDK with an AsyncLocalStorage context manager,
 *   a BatchSpanProcessor feeding an exporter that drops everything, and a
 *   MeterProvider whose reader is never collected (instruments aggregate).
 * The SDK arm records about 5 spans per write (write, attempt, store calls).
 */
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { WriteClientOptions } from "../../src/index.js";
import type { Benchmark } from "../lib/report.js";
import { collect, median } from "../lib/stats.js";
import { createWorld, drive, submitter } from "../lib/world.js";

const CONCURRENCY = 16;
const USERS = 100;
const WINDOW = 1_000;

type TelemetryArm = "off" | "api" | "sdk";

/** Drops every span, at once. */
class DroppingExporter implements SpanExporter {
  spans = 0;
  export(batch: ReadableSpan[], done: (result: { code: number }) => void): void {
    this.spans += batch.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

/** A reader nobody collects: instruments aggregate, nothing is exported. */
class IdleReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function round(arm: TelemetryArm, writes: number): Promise<{ micros: number; spans: number }> {
  const exporter = new DroppingExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4_096, scheduledDelayMillis: 200 })] });
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  const options: Partial<WriteClientOptions> =
    arm === "off" ? {} : arm === "api" ? { opentelemetry: { api } } : { opentelemetry: { api, tracerProvider, meterProvider } };
  const world = await createWorld({ users: USERS, concurrency: CONCURRENCY, client: options });
  const submit = submitter(world, "client");
  await collect();
  const before = process.cpuUsage();
  const failed = await drive(writes, WINDOW, submit);
  // The batch exporter's work belongs to the writes.
  await tracerProvider.forceFlush();
  const used = process.cpuUsage(before);
  await world.client.close();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
  if (failed !== 0) throw new Error(`telemetry (${arm}): ${failed} of ${writes} writes failed`);
  return { micros: (used.user + used.system) / writes, spans: exporter.spans };
}

export const telemetry: Benchmark = {
  name: "telemetry",
  async run({ quick }) {
    const writes = quick ? 10_000 : 100_000;
    const rounds = quick ? 3 : 5;
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const arms: TelemetryArm[] = ["off", "api", "sdk"];
    for (const arm of arms) await round(arm, 5_000);
    const perArm: Record<TelemetryArm, number[]> = { off: [], api: [], sdk: [] };
    let spansPerWrite = 0;
    for (let r = 0; r < rounds; r += 1) {
      const order = r % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) {
        const { micros, spans } = await round(arm, writes);
        perArm[arm].push(micros);
        if (arm === "sdk") spansPerWrite = spans / writes;
      }
    }
    const off = median(perArm.off);
    const noSdk = median(perArm.api);
    const sdk = median(perArm.sdk);
    return {
      rows: [
        { id: "11a", figure: `CPU per write, telemetry off (default), ${writes.toLocaleString("en-US")} writes over ${USERS} users`, unit: "µs", client: off, baseline: null },
        { id: "11b", figure: "CPU per write, opentelemetry option without an SDK (API no-ops)", unit: "µs", client: noSdk, baseline: off, ratio: noSdk / off },
        { id: "11c", figure: `CPU per write, OpenTelemetry SDK, no-op exporter (${spansPerWrite.toFixed(1)} spans per write)`, unit: "µs", client: sdk, baseline: off, ratio: sdk / off },
      ],
      details: { writes, users: USERS, concurrency: CONCURRENCY, window: WINDOW, spansPerWrite, microsecondsPerWrite: perArm },
    };
  },
};
