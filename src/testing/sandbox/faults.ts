/**
 * Fault rules: which calls fail, how, how often. The registry only decides;
 * the server operation applies the decision (latency, then failure before or
 * after its effect), so every front end injects faults the same way.
 * @module
 */
import type { FaultHandle, FaultOperation, FaultRule, NetworkErrorCode, SandboxEndpoint } from "./types.js";
import { apiErrorFailure, bareFailure, networkFailure, type WireFailure } from "./wire.js";

/**
 * A concrete server operation (a rule may also say `"any"`).
 *
 * @example
 * ```ts
 * const operation: ServerOperation = "exchange";
 * ```
 */
export type ServerOperation = Exclude<FaultOperation, "any">;

/**
 * What the fired rules say about one call.
 *
 * @example
 * ```ts
 * const decision: FaultDecision = { latencyMs: 0, failure: bareFailure(503), afterAccept: false };
 * ```
 */
export interface FaultDecision {
  /** Sum of the latency of every rule that fired. */
  latencyMs: number;
  /** The failure of the first fired rule that has one. */
  failure?: WireFailure;
  /** Whether that failure comes after the operation took effect. */
  afterAccept: boolean;
}

const OPERATIONS: readonly FaultOperation[] = ["authorize", "exchange", "refresh", "write", "any"];
const ENDPOINTS: readonly SandboxEndpoint[] = ["jwks", "authorize", "token", "postbox", "import"];
const NETWORK_CODES: readonly NetworkErrorCode[] = ["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN"];
const DEFAULT_MESSAGE = "Injected by a sandbox fault rule";

interface ActiveRule {
  readonly rule: Readonly<FaultRule>;
  readonly operation: FaultOperation;
  remaining: number;
  hits: number;
}

function validate(rule: FaultRule): void {
  const problem = (text: string): never => {
    throw new RangeError(`Invalid sandbox fault rule: ${text}`);
  };
  if (typeof rule !== "object" || rule === null) problem("a rule must be an object");
  if (rule.operation !== undefined && !OPERATIONS.includes(rule.operation)) problem(`operation must be one of ${OPERATIONS.join(", ")}`);
  if (rule.endpoint !== undefined && !ENDPOINTS.includes(rule.endpoint)) problem(`endpoint must be one of ${ENDPOINTS.join(", ")}`);
  if (rule.status !== undefined && (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599)) problem("status must be an integer from 400 to 599");
  if (rule.network !== undefined && !NETWORK_CODES.includes(rule.network)) problem(`network must be one of ${NETWORK_CODES.join(", ")}`);
  if (rule.network !== undefined && (rule.status !== undefined || rule.errorCode !== undefined)) problem("network excludes status and errorCode");
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) problem("probability must be between 0 and 1");
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) problem("times must be a non-negative integer");
  if (rule.latencyMs !== undefined && !(Number.isFinite(rule.latencyMs) && rule.latencyMs >= 0)) problem("latencyMs must be a non-negative number");
  if (rule.retryAfterSeconds !== undefined && !(Number.isFinite(rule.retryAfterSeconds) && rule.retryAfterSeconds >= 0)) problem("retryAfterSeconds must be a non-negative number");
  if (rule.errorCode !== undefined && (typeof rule.errorCode !== "string" || rule.errorCode === "")) problem("errorCode must be a non-empty string");
}

/** The failure a rule produces, or undefined for a latency-only rule. */
function failureOf(rule: FaultRule): WireFailure | undefined {
  if (rule.network !== undefined) return networkFailure(rule.network);
  const status = rule.status ?? (rule.errorCode !== undefined ? 400 : rule.retryAfterSeconds !== undefined ? 503 : undefined);
  if (status === undefined) return undefined;
  return rule.errorCode !== undefined
    ? apiErrorFailure(status, rule.errorCode, DEFAULT_MESSAGE, rule.retryAfterSeconds)
    : bareFailure(status, rule.retryAfterSeconds);
}

function hasFailure(rule: FaultRule): boolean {
  return rule.network !== undefined || rule.status !== undefined || rule.errorCode !== undefined || rule.retryAfterSeconds !== undefined;
}

/** Whether a rule selects this call by operation and endpoint (the library is checked apart). */
function matchesCall(active: ActiveRule, operation: ServerOperation | undefined, endpoint: SandboxEndpoint | undefined): boolean {
  const { rule } = active;
  if (rule.endpoint !== undefined && rule.endpoint !== endpoint) return false;
  // A request that is no server operation (the JWKS fetch) is hit only by rules naming its endpoint.
  if (operation === undefined) return rule.endpoint !== undefined && active.operation === "any";
  return active.operation === "any" || active.operation === operation;
}

/**
 * Holds fault rules and decides, per call, which fire.
 *
 * @example
 * ```ts
 * const faults = new FaultRegistry(mulberry32(1));
 * faults.add({ status: 503, times: 1 });
 * faults.decide("write", "library-1"); // { latencyMs: 0, failure: WireFailure(503), afterAccept: false }
 * faults.decide("write", "library-1"); // undefined: the rule is used up
 * faults.add({ endpoint: "jwks", status: 500, times: 1 });
 * faults.decide(undefined, undefined, "jwks"); // the JWKS fetch fails once
 * ```
 */
export class FaultRegistry {
  readonly #random: () => number;
  #rules: ActiveRule[] = [];

  constructor(random: () => number) {
    this.#random = random;
  }

  /** Add a rule; it applies from the next matching call. */
  add(rule: FaultRule): FaultHandle {
    validate(rule);
    // Naming an endpoint is selector enough: its operation then defaults to any.
    const operation = rule.operation ?? (rule.endpoint === undefined ? "write" : "any");
    const active: ActiveRule = { rule: { ...rule }, operation, remaining: rule.times ?? Number.POSITIVE_INFINITY, hits: 0 };
    this.#rules.push(active);
    return {
      remove: () => {
        this.#rules = this.#rules.filter((candidate) => candidate !== active);
      },
      get hits() {
        return active.hits;
      },
    };
  }

  /** Remove every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** The rules in force, oldest first, with their hits and remaining times (for the dev server's page). */
  list(): Array<{ readonly rule: Readonly<FaultRule>; readonly hits: number; readonly remaining: number }> {
    return this.#rules.map(({ rule, hits, remaining }) => ({ rule, hits, remaining }));
  }

  /**
   * Decide for one call. Every matching rule may add latency; only the first
   * fired rule that fails determines the failure, and a failing rule that
   * comes after it is neither drawn nor counted, so its `times` stay intact.
   * `operation` is undefined for requests that are no server operation (the
   * JWKS fetch): only rules naming their `endpoint` can hit those.
   */
  decide(operation: ServerOperation | undefined, libraryId: string | undefined, endpoint?: SandboxEndpoint): FaultDecision | undefined {
    let decision: FaultDecision | undefined;
    for (const active of this.#rules) {
      const { rule } = active;
      if (active.remaining <= 0) continue;
      if (!matchesCall(active, operation, endpoint)) continue;
      if (rule.libraryId !== undefined && rule.libraryId !== libraryId) continue;
      const fails = hasFailure(rule);
      if (fails && decision?.failure !== undefined) continue;
      if (rule.probability !== undefined && !(this.#random() < rule.probability)) continue;
      active.remaining -= 1;
      active.hits += 1;
      decision ??= { latencyMs: 0, afterAccept: false };
      decision.latencyMs += rule.latencyMs ?? 0;
      const failure = failureOf(rule);
      if (failure !== undefined) {
        decision.failure = failure;
        decision.afterAccept = rule.afterAccept === true;
      }
    }
    this.#rules = this.#rules.filter((active) => active.remaining > 0);
    return decision;
  }
}
