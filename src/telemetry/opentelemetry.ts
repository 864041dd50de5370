/**
 * OpenTelemetry over the telemetry seam: spans for each step, and the
 * pipeline's metrics. `@opentelemetry/api` is an optional peer dependency,
 * loaded (or taken from the `api` option) only when the app passes the
 * `opentelemetry` option; nothing here runs otherwise.
 * @module
 */
import { ValidationError } from "../errors.js";
import { requireOptionalPeer } from "../internal/optional-peer.js";
import { errorType, httpStatusOf, type Telemetry, type TelemetryAttributes, type TelemetryCounter, type TelemetryHistogram, type TelemetryStep } from "./telemetry.js";

/**
 * The parts of `@opentelemetry/api` the client uses; pass the module itself
 * (`import * as api from "@opentelemetry/api"`).
 *
 * @example
 * ```ts
 * import * as api from "@opentelemetry/api";
 * const otel: OpenTelemetryApi = api;
 * ```
 */
export interface OpenTelemetryApi {
  /** `api.trace`. */
  trace: {
    /** A tracer of the global provider. */
    getTracer(name: string, version?: string): unknown;
    /** The global tracer provider (a proxy whose delegate is a no-op until an SDK registers one). */
    getTracerProvider?(): unknown;
    /** A context with `span` as the active span. */
    setSpan(context: any, span: any): unknown;
  };
  /** `api.context`. */
  context: {
    /** The active context. */
    active(): unknown;
    /** Run `fn` in `context`. */
    with(context: any, fn: (...args: any[]) => any): any;
  };
  /** `api.metrics`. */
  metrics: {
    /** A meter of the global provider. */
    getMeter(name: string, version?: string): unknown;
    /** The global meter provider (a no-op until an SDK registers one). */
    getMeterProvider?(): unknown;
  };
}

/**
 * Option `opentelemetry` of {@link WriteClient}: traces and metrics through
 * the OpenTelemetry API. `true` is the same as `{}`.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, opentelemetry: { includeUserId: false } });
 * ```
 */
export interface OpenTelemetryOptions {
  /**
   * The `@opentelemetry/api` module. Default: loaded from your project
   * (`require("@opentelemetry/api")`); pass it when your bundler or module
   * layout hides it from the library.
   * @defaultValue `@opentelemetry/api` loaded from your project
   */
  api?: OpenTelemetryApi;
  /**
   * Where spans go. Default: the global tracer provider your SDK registered (`api.trace`).
   * @defaultValue the global tracer provider (`api.trace`)
   */
  tracerProvider?: {
    /** The library's tracer (scope `digime-write-pipeline`). */
    getTracer(name: string, version?: string): unknown;
  };
  /**
   * Where metrics go. Default: the global meter provider (`api.metrics`).
   * @defaultValue the global meter provider (`api.metrics`)
   */
  meterProvider?: {
    /** The library's meter (scope `digime-write-pipeline`). */
    getMeter(name: string, version?: string): unknown;
  };
  /**
   * Put the app's user id on spans as `user.id`. Off by default: user ids
   * are personal data in many apps. Never put on metrics (unbounded).
   * @defaultValue false
   */
  includeUserId?: boolean;
}

/** The library's instrumentation scope. */
const SCOPE = "digime-write-pipeline";
const SCOPE_VERSION = "0.1.0";
/** SpanKind.INTERNAL, SpanStatusCode.ERROR of the API. */
const SPAN_KIND_INTERNAL = 0;
const STATUS_ERROR = 2;

interface OtelSpan {
  setAttributes(attributes: TelemetryAttributes): unknown;
  addEvent(name: string, attributes?: TelemetryAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
type ObservableCallback = (result: { observe(value: number, attributes?: TelemetryAttributes): void }) => void;
interface OtelTracer {
  startSpan(name: string, options: { kind: number; attributes: TelemetryAttributes }, context: unknown): OtelSpan;
}
interface OtelInstrument {
  add?(value: number, attributes?: TelemetryAttributes): void;
  record?(value: number, attributes?: TelemetryAttributes): void;
}
interface OtelMeter {
  createCounter(name: string, options: { description: string; unit: string }): OtelInstrument;
  createHistogram(name: string, options: { description: string; unit: string; advice?: { explicitBucketBoundaries: number[] } }): OtelInstrument;
  createObservableGauge(name: string, options: { description: string; unit: string }): {
    addCallback(callback: ObservableCallback): void;
    removeCallback(callback: ObservableCallback): void;
  };
}

/**
 * The metrics the client records: name, unit, and what they count. Names and
 * units are part of the documented contract (docs/observability.md).
 */
const COUNTERS: Record<TelemetryCounter, { unit: string; description: string }> = {
  "digime.writes": { unit: "{write}", description: "Writes settled, by digime.write.outcome (delivered, failed) and error.type" },
  "digime.write.attempts": { unit: "{attempt}", description: "Write attempts (SDK calls), by digime.attempt.outcome (success, failure)" },
  "digime.write.retries": { unit: "{retry}", description: "Attempts retried, by digime.retry.reason" },
  "digime.token.refreshes": { unit: "{refresh}", description: "Token refreshes, by digime.refresh.source (write, proactive) and digime.refresh.outcome (success, failure)" },
  "digime.token.persist_failures": { unit: "{failure}", description: "Failed tries to store a new token (retried; the token stays in use meanwhile)" },
};
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const HISTOGRAMS: Record<TelemetryHistogram, { unit: string; description: string }> = {
  "digime.write.duration": { unit: "s", description: "From write() to settlement, by digime.write.outcome" },
  "digime.write.queue_wait": { unit: "s", description: "From write() to the first attempt" },
};

class OtelStep implements TelemetryStep {
  readonly span: OtelSpan;
  readonly context: unknown;
  readonly #api: OpenTelemetryApi;

  constructor(api: OpenTelemetryApi, span: OtelSpan, context: unknown) {
    this.#api = api;
    this.span = span;
    this.context = context;
  }

  run<T>(fn: () => T): T {
    return this.#api.context.with(this.context, fn) as T;
  }

  event(name: string, attributes?: TelemetryAttributes): void {
    this.span.addEvent(name, attributes);
  }

  set(attributes: TelemetryAttributes): void {
    this.span.setAttributes(attributes);
  }

  end(error?: unknown): void {
    if (error !== undefined) {
      const type = errorType(error);
      const status = httpStatusOf(error);
      this.span.setAttributes(status === undefined ? { "error.type": type } : { "error.type": type, "http.response.status_code": status });
      // The code only: messages are scrubbed at the client's edge, after this point.
      this.span.setStatus({ code: STATUS_ERROR, message: type });
    }
    this.span.end();
  }
}

/** How often the seam looks again whether an SDK has been registered globally. */
const RECHECK_MS = 1_000;

/** Whether `provider` (or a proxy's delegate) is the API's own no-op: no SDK registered. */
function isNoop(provider: unknown): boolean {
  const delegate = (provider as { getDelegate?: () => unknown } | undefined)?.getDelegate?.() ?? provider;
  const name = (delegate as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
  // By name: the API does not export its no-op classes. A renamed (minified) one only costs the spans.
  return name === "NoopTracerProvider" || name === "NoopMeterProvider";
}

class OpenTelemetrySeam implements Telemetry {
  readonly includeUserId: boolean;
  /** Providers passed in the options are used as they are; only the global ones may still be no-ops. */
  readonly #explicit: boolean;
  #live = true;
  #checkAt = 0;
  readonly #api: OpenTelemetryApi;
  readonly #tracer: OtelTracer;
  readonly #counters = new Map<TelemetryCounter, OtelInstrument>();
  readonly #histograms = new Map<TelemetryHistogram, OtelInstrument>();
  readonly #meter: OtelMeter;

  constructor(api: OpenTelemetryApi, options: OpenTelemetryOptions) {
    this.#api = api;
    this.includeUserId = options.includeUserId ?? false;
    this.#explicit = options.tracerProvider !== undefined || options.meterProvider !== undefined;
    this.#tracer = (options.tracerProvider ?? api.trace).getTracer(SCOPE, SCOPE_VERSION) as OtelTracer;
    this.#meter = (options.meterProvider ?? api.metrics).getMeter(SCOPE, SCOPE_VERSION) as OtelMeter;
    for (const [name, spec] of Object.entries(COUNTERS) as Array<[TelemetryCounter, { unit: string; description: string }]>) {
      this.#counters.set(name, this.#meter.createCounter(name, spec));
    }
    for (const [name, spec] of Object.entries(HISTOGRAMS) as Array<[TelemetryHistogram, { unit: string; description: string }]>) {
      this.#histograms.set(name, this.#meter.createHistogram(name, { ...spec, advice: { explicitBucketBoundaries: SECONDS_BUCKETS } }));
    }
  }

  /**
   * Off while no SDK is registered globally (and no provider was passed): the
   * API's no-op spans and instruments would still cost microseconds per write.
   * Looked at again every second, so an SDK started later is picked up.
   */
  get enabled(): boolean {
    if (this.#explicit) return true;
    const now = performance.now();
    if (now >= this.#checkAt) {
      this.#checkAt = now + RECHECK_MS;
      this.#live = !isNoop(this.#api.trace.getTracerProvider?.()) || !isNoop(this.#api.metrics.getMeterProvider?.());
    }
    return this.#live;
  }

  start(name: string, attributes: TelemetryAttributes, parent?: TelemetryStep): TelemetryStep {
    const parentContext = parent instanceof OtelStep ? parent.context : this.#api.context.active();
    const span = this.#tracer.startSpan(name, { kind: SPAN_KIND_INTERNAL, attributes }, parentContext);
    return new OtelStep(this.#api, span, this.#api.trace.setSpan(parentContext, span));
  }

  count(name: TelemetryCounter, attributes?: TelemetryAttributes, value = 1): void {
    this.#counters.get(name)?.add?.(value, attributes);
  }

  record(name: TelemetryHistogram, seconds: number, attributes?: TelemetryAttributes): void {
    this.#histograms.get(name)?.record?.(seconds, attributes);
  }

  observeQueue(read: () => { depth: number; inFlight: number }): () => void {
    const depth = this.#meter.createObservableGauge("digime.queue.depth", { unit: "{write}", description: "Writes accepted and waiting for their first attempt" });
    const inFlight = this.#meter.createObservableGauge("digime.queue.in_flight", { unit: "{write}", description: "Writes running: calling the SDK or waiting between attempts" });
    const observeDepth: ObservableCallback = (result) => result.observe(read().depth);
    const observeInFlight: ObservableCallback = (result) => result.observe(read().inFlight);
    depth.addCallback(observeDepth);
    inFlight.addCallback(observeInFlight);
    return () => {
      depth.removeCallback(observeDepth);
      inFlight.removeCallback(observeInFlight);
    };
  }
}

function loadApi(): OpenTelemetryApi {
  try {
    return requireOptionalPeer<OpenTelemetryApi>("@opentelemetry/api");
  } catch {
    throw new ValidationError("INVALID_OPTIONS", "options", [
      { path: "options.opentelemetry", message: "needs the optional peer dependency @opentelemetry/api (npm install @opentelemetry/api), or pass it as opentelemetry.api" },
    ]);
  }
}

/**
 * The seam for the `opentelemetry` option.
 */
export function createOpenTelemetry(option: true | OpenTelemetryOptions): Telemetry {
  const options = option === true ? {} : option;
  return new OpenTelemetrySeam(options.api ?? loadApi(), options);
}
