/**
 * The dev server's controls: what a person can change from its page. Each
 * takes the posted form and changes the sandbox's state; the page then shows
 * the result (the form posts redirect back to it).
 * @module
 */
import { resetCounters } from "../counters.js";
import type { SandboxState } from "../state.js";
import type { FaultRule, SandboxEndpoint } from "../types.js";

/** What a control did, or why it did nothing. */
export type ControlOutcome = { ok: true; done: string } | { ok: false; problem: string };

/**
 * Expire one user's (library's) tokens: `kind=access` (the next call
 * refreshes) or `kind=refresh` (the next refresh fails: the user must
 * authorize again).
 *
 * @example
 * ```ts
 * expireTokens(state, new URLSearchParams({ library: "library-1", kind: "access" }));
 * ```
 */
export function expireTokens(state: SandboxState, form: URLSearchParams): ControlOutcome {
  const libraryId = form.get("library") ?? "";
  const kind = form.get("kind");
  if (!state.libraries.has(libraryId)) return { ok: false, problem: "No such library" };
  if (kind === "access") state.tokens.expireAccess({ libraryId });
  else if (kind === "refresh") state.tokens.expireRefresh({ libraryId });
  else return { ok: false, problem: 'The form field "kind" must be "access" or "refresh"' };
  return { ok: true, done: `expired the ${kind} tokens of ${libraryId}` };
}

function optionalInteger(form: URLSearchParams, name: string): number | undefined {
  const value = form.get(name)?.trim() ?? "";
  return value === "" ? undefined : Number(value);
}

/**
 * Add a fault rule from the page's form (endpoint, status, retry-after,
 * network, times); the sandbox validates it as `sandbox.faults.add` does.
 *
 * @example
 * ```ts
 * addFault(state, new URLSearchParams({ endpoint: "import", status: "503", times: "2" }));
 * ```
 */
export function addFault(state: SandboxState, form: URLSearchParams): ControlOutcome {
  const rule: FaultRule = {};
  const endpoint = form.get("endpoint") ?? "";
  if (endpoint !== "") rule.endpoint = endpoint as SandboxEndpoint;
  const network = form.get("network") ?? "";
  if (network !== "") rule.network = network as NonNullable<FaultRule["network"]>;
  const status = optionalInteger(form, "status");
  if (status !== undefined) rule.status = status;
  const retryAfter = optionalInteger(form, "retry-after");
  if (retryAfter !== undefined) rule.retryAfterSeconds = retryAfter;
  const times = optionalInteger(form, "times");
  if (times !== undefined) rule.times = times;
  if (rule.status === undefined && rule.network === undefined) return { ok: false, problem: "A fault needs a status or a network error" };
  try {
    state.faults.add(rule);
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : "Invalid fault rule" };
  }
  return { ok: true, done: "added a fault rule" };
}

/**
 * Remove every fault rule.
 *
 * @example
 * ```ts
 * clearFaults(state);
 * ```
 */
export function clearFaults(state: SandboxState): ControlOutcome {
  state.faults.clear();
  return { ok: true, done: "cleared the fault rules" };
}

/**
 * Start afresh, keeping the application, the contract and its keys (so the
 * app's configuration stays valid): forget every library with its files,
 * every token, pending authorization and fault rule, and zero the counters.
 * Apps holding a token then hear that this sandbox does not know it.
 *
 * @example
 * ```ts
 * resetSandbox(state);
 * ```
 */
export function resetSandbox(state: SandboxState): ControlOutcome {
  state.libraries.clear();
  state.tokens.clear();
  state.authorizations.clear();
  state.faults.clear();
  resetCounters(state.counters);
  return { ok: true, done: "reset: no libraries, tokens or faults; same application and contract" };
}
