/**
 * The one core state of a sandbox: contracts, libraries (with postboxes and
 * delivered files), tokens, pending authorizations and codes, fault rules,
 * counters, the pause gate and the clock. Front ends (the in-process SDK fakes,
 * the HTTP handlers) never keep state of their own; they call `server.ts`
 * operations over this object.
 * @module
 */
import { AuthorizationRegistry } from "./authorizations.js";
import { createClock, type Clock } from "./clock.js";
import { ContractRegistry, type ContractRecord } from "./contracts.js";
import { createCounters } from "./counters.js";
import { FaultRegistry } from "./faults.js";
import { Gate } from "./gate.js";
import { LibraryRegistry } from "./libraries.js";
import { mulberry32, randomId } from "./random.js";
import { applySnapshot, parseSnapshot } from "./snapshot.js";
import { TokenRegistry } from "./tokens.js";
import type { SandboxCounters, SandboxOptions } from "./types.js";
import { randomInt } from "node:crypto";

/**
 * Default access token lifetime: one hour.
 *
 * @example
 * ```ts
 * advanceClock((DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS + 1) * 1000);
 * ```
 */
export const DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS = 3600;
/**
 * Default refresh token lifetime: 30 days.
 *
 * @example
 * ```ts
 * advanceClock(DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS * 1000); // only a new consent helps now
 * ```
 */
export const DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600;

/**
 * Everything a simulated digi.me knows.
 *
 * @example
 * ```ts
 * const state = createSandboxState({ seed: 7 });
 * state.tokens.issue(state.libraries.create(), state.defaultContract.contractId, "consent-1");
 * ```
 */
export interface SandboxState {
  readonly applicationId: string;
  readonly clock: Clock;
  readonly contracts: ContractRegistry;
  /** The write contract every sandbox starts with. */
  readonly defaultContract: ContractRecord;
  readonly libraries: LibraryRegistry;
  readonly tokens: TokenRegistry;
  readonly authorizations: AuthorizationRegistry;
  readonly faults: FaultRegistry;
  readonly counters: SandboxCounters;
  readonly gate: Gate;
  /** Whether delivered files keep their bytes (else only size and hash). */
  readonly keepFileBytes: boolean;
  /**
   * The consent UI root the in-process fakes put in authorize URLs: the
   * loopback server's while `sandbox.listen()` runs, so a browser can open
   * them. Set by `createSandbox`; unset, the virtual host.
   */
  onboardUrl?: (() => string) | undefined;
}

function positiveSeconds(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`createSandbox: ${name} must be a positive number of seconds`);
  return value;
}

/**
 * Build a fresh state from sandbox options (validated here, once).
 *
 * @example
 * ```ts
 * const state = createSandboxState({ accessTokenLifetimeSeconds: 60 });
 * ```
 */
export function createSandboxState(options: SandboxOptions = {}): SandboxState {
  const accessSeconds = positiveSeconds(options.accessTokenLifetimeSeconds, DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS, "accessTokenLifetimeSeconds");
  const refreshSeconds = positiveSeconds(options.refreshTokenLifetimeSeconds, DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS, "refreshTokenLifetimeSeconds");
  if (options.now !== undefined && typeof options.now !== "function") throw new TypeError("createSandbox: now must be a function returning epoch milliseconds");
  if (options.seed !== undefined && !Number.isFinite(options.seed)) throw new RangeError("createSandbox: seed must be a finite number");
  if (options.keepFileBytes !== undefined && typeof options.keepFileBytes !== "boolean") throw new TypeError("createSandbox: keepFileBytes must be a boolean");
  const snapshot = options.state === undefined ? undefined : parseSnapshot(options.state);
  const clock = createClock(options.now ?? Date.now);
  const contracts = new ContractRegistry();
  const savedDefault = snapshot?.contracts.find((contract) => contract.contractId === snapshot.defaultContractId);
  const state: SandboxState = {
    applicationId: snapshot?.applicationId ?? randomId("sandbox-app"),
    clock,
    contracts,
    defaultContract: savedDefault === undefined ? contracts.create() : contracts.restore(savedDefault),
    libraries: new LibraryRegistry(),
    tokens: new TokenRegistry(clock, { accessSeconds, refreshSeconds }),
    authorizations: new AuthorizationRegistry(clock),
    // Unseeded sandboxes still draw from a PRNG, just from a random seed.
    faults: new FaultRegistry(mulberry32(options.seed ?? randomInt(2 ** 31))),
    counters: createCounters(),
    gate: new Gate(),
    keepFileBytes: options.keepFileBytes ?? true,
  };
  if (snapshot !== undefined) applySnapshot(state, snapshot);
  return state;
}
