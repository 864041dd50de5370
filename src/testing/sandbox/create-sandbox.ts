/**
 * `createSandbox()`: the public face of the sandbox. It owns one core state
 * and hands out front ends over it (today the in-process SDK fakes) plus the
 * test controls: consent, inspection, token expiry, faults, pause, counters.
 * @module
 */
import { inspect } from "node:util";
import type { DigimeSdk, SdkGenerationA, SdkGenerationB, UserAccessToken } from "../../sdk/types.js";
import { performConsent } from "./consent.js";
import { resetCounters } from "./counters.js";
import { createGenerationA } from "./fakes/generation-a.js";
import { createGenerationB } from "./fakes/generation-b.js";
import { createGenerationC, type SandboxSdkV16 } from "./fakes/generation-c.js";
import { createHttpFrontEnd } from "./http/front-end.js";
import type { SandboxHandlersOptions, SandboxListenOptions, SandboxRequestHandler, SandboxServer } from "./http/types.js";
import { exportSnapshot, type SandboxSnapshot } from "./snapshot.js";
import { createSandboxState, type SandboxState } from "./state.js";
import type {
  ConsentOptions,
  FaultHandle,
  FaultRule,
  SandboxContract,
  SandboxCounters,
  SandboxLibrary,
  SandboxOptions,
  SandboxSdkVersion,
} from "./types.js";

/**
 * Fault injection controls.
 *
 * @example
 * ```ts
 * const rule = sandbox.faults.add({ status: 503, retryAfterSeconds: 1, times: 2 });
 * sandbox.faults.clear();
 * ```
 */
export interface SandboxFaults {
  /**
   * Add a rule. At the start of each server operation (after the pause gate),
   * rules are checked in the order added: a rule matches by operation
   * (default `"write"`, or any when it names an `endpoint`), `endpoint` and
   * `libraryId`, is drawn against `probability` with
   * the seeded PRNG, and on a hit counts one of its `times`. Latency of all
   * hit rules adds up; the first hit rule with a failure decides the failure
   * (later failing rules are not drawn). Throws RangeError on an invalid rule.
   */
  add(rule: FaultRule): FaultHandle;
  /** Remove all rules. */
  clear(): void;
}

/**
 * A simulated digi.me.
 *
 * @example
 * ```ts
 * const sandbox = createSandbox();
 * const sdk = sandbox.sdk("v16");
 * const { url, codeVerifier } = await sdk.getAuthorizeUrl({ contractDetails: sandbox.contractDetails, callback, state: "s" });
 * const code = new URL(await sandbox.consent(url)).searchParams.get("code")!;
 * const token = await sdk.exchangeCodeForToken({ contractDetails: sandbox.contractDetails, authorizationCode: code, codeVerifier });
 * await sdk.pushData({ type: "library", contractDetails: sandbox.contractDetails, userAccessToken: token, data });
 * sandbox.library(token.user!.id!)!.files; // [the file]
 * ```
 */
export interface Sandbox {
  /** The sandbox clock in epoch milliseconds. */
  now(): number;
  /** The application id the contracts belong to (what `init({ applicationId })` would take). */
  readonly applicationId: string;
  /** The default (write) contract: id and PKCS#1 PEM private key. Add `redirectUri` for SDK 8.x. */
  readonly contractDetails: SandboxContract;
  /** Another contract of the same application, sharing the libraries (e.g. a read contract). */
  addContract(): SandboxContract;
  /** An in-process fake of SDK 8.x (generation A). */
  sdk(version: "v8"): SdkGenerationA;
  /** An in-process fake of SDK 10.x (generation B). */
  sdk(version: "v10"): SdkGenerationB;
  /** An in-process fake of SDK 16.x (generation C), `refreshToken` included. */
  sdk(version: "v16"): SandboxSdkV16;
  /** The fake of any supported version. */
  sdk(version: SandboxSdkVersion): DigimeSdk;
  /**
   * Play the user at an authorize URL; returns the URL the browser would be
   * redirected to. Throws for an unknown, used or expired URL.
   */
  consent(url: string, options?: ConsentOptions): Promise<string>;
  /** A snapshot of one library, or undefined. */
  library(libraryId: string): SandboxLibrary | undefined;
  /** Snapshots of every library. */
  libraries(): SandboxLibrary[];
  /** The library an access token (expired or not) belongs to. */
  libraryIdOf(accessTokenValue: string): string | undefined;
  /** The newest token pair issued for a library and contract (default: the default contract), with `user.id` and `consentid`. */
  latestToken(libraryId: string, contractId?: string): UserAccessToken | undefined;
  /** Every access token issued so far counts as expired from now on (server side). */
  expireAccessTokens(filter?: { libraryId?: string }): void;
  /** Every refresh token issued so far is rejected from now on. */
  expireRefreshTokens(filter?: { libraryId?: string }): void;
  /** Fault injection. */
  readonly faults: SandboxFaults;
  /** Hold every SDK call at its next server operation until {@link Sandbox.resume}. */
  pause(): void;
  /** Release held calls, in arrival order. */
  resume(): void;
  /** Live, read-only counters. */
  readonly counters: Readonly<SandboxCounters>;
  /** Zero every counter. */
  resetCounters(): void;
  /**
   * The sandbox's state as JSON-ready data, for `createSandbox({ state })` in
   * a later process: application, contracts with their keys, libraries with
   * their postboxes, and the token pairs that can still be used. Not saved:
   * files, pending authorizations, faults, counters. Holds private keys and
   * token values: store it like a secret.
   */
  exportState(): SandboxSnapshot;
  /**
   * The API root to give the real SDK's `init({ baseUrl })`: the loopback
   * server's while {@link Sandbox.listen} runs, else the virtual host
   * (`https://sandbox.digi.me.invalid/v1.7/`) that {@link Sandbox.handlers}
   * answers by default.
   */
  readonly baseUrl: string;
  /** The consent UI root to give the real SDK's `init({ onboardUrl })`; as {@link Sandbox.baseUrl}. */
  readonly onboardUrl: string;
  /**
   * msw request handlers that speak digi.me's wire protocol over this
   * sandbox's state: JWKS, `oauth/authorize`, `oauth/token`,
   * `permission-access/postbox/:id`, `permission-access/import`, and the
   * consent page. Needs the optional peer dependency `msw`.
   *
   * @example
   * ```ts
   * import { setupServer } from "msw/node";
   * const server = setupServer(...sandbox.handlers());
   * server.listen(); // fail on unhandled requests: onUnhandledRequest (msw 2) or onUnhandledFrame (msw 3)
   * const sdk = init({ applicationId: sandbox.applicationId, baseUrl: sandbox.baseUrl, onboardUrl: sandbox.onboardUrl });
   * ```
   */
  handlers(options?: SandboxHandlersOptions): SandboxRequestHandler[];
  /**
   * Serve the same endpoints from a real HTTP server on loopback (for other
   * processes, browsers, or an SDK you would rather not intercept). One
   * server per sandbox; rejects while one is running.
   *
   * @example
   * ```ts
   * const server = await sandbox.listen({ port: 0 });
   * const sdk = init({ applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl });
   * await sandbox.close();
   * ```
   */
  listen(options?: SandboxListenOptions): Promise<SandboxServer>;
  /** Stop the loopback server, if one runs. Idempotent. */
  close(): Promise<void>;
}

const states = new WeakMap<Sandbox, SandboxState>();

/**
 * The core state behind a sandbox, for other front ends (the HTTP handlers)
 * to serve the same libraries, tokens and faults. Internal: not exported from
 * the package.
 *
 * @example
 * ```ts
 * const state = sandboxStateOf(sandbox);
 * await importFile(state, request);
 * ```
 */
export function sandboxStateOf(sandbox: Sandbox): SandboxState {
  const state = states.get(sandbox);
  if (state === undefined) throw new TypeError("sandboxStateOf: not a sandbox made by createSandbox()");
  return state;
}

function tokenOf(state: SandboxState, libraryId: string, contractId: string): UserAccessToken | undefined {
  const record = state.tokens.latest(libraryId, contractId);
  if (record === undefined) return undefined;
  return {
    accessToken: { ...record.accessToken },
    refreshToken: { ...record.refreshToken },
    user: { id: record.libraryId },
    consentid: record.consentId,
  };
}

/**
 * Create a simulated digi.me with its own contract (fresh RSA-2048 keys),
 * token lifetimes, clock and seeded fault PRNG. `util.inspect` and
 * `JSON.stringify` show counts only, never keys or tokens.
 *
 * @example
 * ```ts
 * import { createSandbox } from "digime-write-pipeline/testing";
 *
 * const sandbox = createSandbox({ accessTokenLifetimeSeconds: 60, seed: 1 });
 * const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, ... });
 * ```
 */
export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const state = createSandboxState(options);
  const fakes = new Map<SandboxSdkVersion, DigimeSdk>();
  const httpFrontEnd = createHttpFrontEnd(state);
  // The fakes hand out consent URLs on the server's host while it listens, so a browser can open them.
  state.onboardUrl = () => httpFrontEnd.onboardUrl;
  const makers: Record<SandboxSdkVersion, () => DigimeSdk> = {
    v8: () => createGenerationA(state),
    v10: () => createGenerationB(state),
    v16: () => createGenerationC(state),
  };
  const contractDetails: SandboxContract = { contractId: state.defaultContract.contractId, privateKey: state.defaultContract.privateKey };
  const summary = () => ({
    applicationId: state.applicationId,
    contracts: state.contracts.size,
    libraries: state.libraries.size,
    files: state.libraries.fileCount,
    tokenPairs: state.tokens.size,
    paused: state.gate.paused,
  });

  function sdk(version: "v8"): SdkGenerationA;
  function sdk(version: "v10"): SdkGenerationB;
  function sdk(version: "v16"): SandboxSdkV16;
  function sdk(version: SandboxSdkVersion): DigimeSdk;
  function sdk(version: SandboxSdkVersion): DigimeSdk {
    const make = makers[version];
    if (make === undefined) throw new TypeError(`sandbox.sdk: unsupported version "${String(version)}" (use "v8", "v10" or "v16")`);
    let fake = fakes.get(version);
    if (fake === undefined) {
      fake = make();
      fakes.set(version, fake);
    }
    return fake;
  }

  const sandbox: Sandbox = {
    now: () => state.clock.nowMs(),
    applicationId: state.applicationId,
    contractDetails,
    addContract: () => {
      const record = state.contracts.create();
      return { contractId: record.contractId, privateKey: record.privateKey };
    },
    sdk,
    consent: (url, consentOptions) => performConsent(state, url, consentOptions),
    library: (libraryId) => state.libraries.view(libraryId),
    libraries: () => state.libraries.views(),
    libraryIdOf: (accessTokenValue) => state.tokens.libraryOfAccess(accessTokenValue),
    latestToken: (libraryId, contractId = state.defaultContract.contractId) => tokenOf(state, libraryId, contractId),
    expireAccessTokens: (filter) => state.tokens.expireAccess(filter),
    expireRefreshTokens: (filter) => state.tokens.expireRefresh(filter),
    faults: {
      add: (rule) => state.faults.add(rule),
      clear: () => state.faults.clear(),
    },
    pause: () => state.gate.pause(),
    resume: () => state.gate.resume(),
    counters: state.counters,
    resetCounters: () => resetCounters(state.counters),
    exportState: () => exportSnapshot(state),
    get baseUrl() {
      return httpFrontEnd.baseUrl;
    },
    get onboardUrl() {
      return httpFrontEnd.onboardUrl;
    },
    handlers: (handlerOptions) => httpFrontEnd.handlers(handlerOptions),
    listen: (listenOptions) => httpFrontEnd.listen(listenOptions),
    close: () => httpFrontEnd.close(),
  };
  // Tests print and serialise sandboxes; show counts, never keys or tokens.
  Object.defineProperties(sandbox, {
    [inspect.custom]: { value: () => `Sandbox ${inspect(summary())}` },
    toJSON: { value: summary },
  });
  states.set(sandbox, state);
  return sandbox;
}
