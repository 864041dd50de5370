/**
 * Public data types of the sandbox: its options, what it records, and the
 * fault rules tests add. Kept apart from the behaviour so the in-process fakes
 * and the HTTP front end share one vocabulary.
 * @module
 */
import type { FileDescriptor } from "../../sdk/types.js";
import type { SandboxSnapshot } from "./snapshot.js";

/**
 * An SDK write-API generation: A (postbox, SDK 5–8), B (import, 9–10),
 * C (pushData, 11–17).
 *
 * @example
 * ```ts
 * const generation: SandboxGeneration = sandbox.library(id)!.files[0]!.generation;
 * ```
 */
export type SandboxGeneration = "A" | "B" | "C";

/**
 * The SDK versions the sandbox can impersonate, one per generation.
 *
 * @example
 * ```ts
 * const version: SandboxSdkVersion = "v16";
 * const sdk = sandbox.sdk(version);
 * ```
 */
export type SandboxSdkVersion = "v8" | "v10" | "v16";

/**
 * Options of {@link createSandbox}.
 *
 * @example
 * ```ts
 * let clock = Date.parse("2030-01-01T00:00:00Z");
 * const sandbox = createSandbox({ now: () => clock, accessTokenLifetimeSeconds: 60, seed: 42 });
 * clock += 61_000; // every access token issued so far is now stale
 * ```
 */
export interface SandboxOptions {
  /**
   * Lifetime of every issued access token, in seconds. Default 3600.
   * @defaultValue `3600`
   */
  accessTokenLifetimeSeconds?: number;
  /**
   * Lifetime of every issued refresh token, in seconds. Default 30 days.
   * @defaultValue `2592000` (30 days)
   */
  refreshTokenLifetimeSeconds?: number;
  /**
   * The sandbox clock in epoch milliseconds. Default `Date.now`. Token
   * expiries are epoch seconds derived from it, so advancing it expires tokens.
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * Seeds the PRNG that draws fault probabilities, so flaky runs replay.
   * @defaultValue a seed drawn at random
   */
  seed?: number;
  /**
   * Keep the bytes of every delivered file (default `true`). With `false` the
   * fakes read each upload through, counting and hashing it without holding
   * it: `DeliveredFile.bytes` is then empty and only `size` and `sha256`
   * describe the file. For benchmarks and large uploads.
   * @defaultValue `true`
   */
  keepFileBytes?: boolean;
  /**
   * Start from a saved state (what `sandbox.exportState()` returned, possibly
   * through `JSON.stringify`/`JSON.parse`): the same application, contracts,
   * libraries and usable tokens, so credentials stored by an earlier run keep
   * working. Files, faults and counters start empty. Throws a TypeError when
   * the value is not a snapshot.
   * @defaultValue a new, empty sandbox
   */
  state?: SandboxSnapshot;
}

/**
 * A contract the sandbox knows: its id and its PKCS#1 PEM private key. Pass it
 * as (part of) the SDK's `contractDetails`.
 *
 * @example
 * ```ts
 * const { contractId, privateKey }: SandboxContract = sandbox.contractDetails;
 * ```
 */
export interface SandboxContract {
  /** The contract's id. */
  contractId: string;
  /** The contract's PKCS#1 PEM private key. */
  privateKey: string;
}

/**
 * One file the sandbox accepted into a library.
 *
 * @example
 * ```ts
 * const file: DeliveredFile | undefined = sandbox.library(libraryId)?.files[0];
 * expect(file?.bytes.toString()).toBe("hello");
 * ```
 */
export interface DeliveredFile {
  /** The library the file went into. */
  libraryId: string;
  /** The contract that wrote it. */
  contractId: string;
  /**
   * The name the writer gave: generation A only. Generations B and C never
   * send it (the import request carries the bytes and the descriptor), so it
   * is `""` for them, in process and over HTTP alike; identify their files
   * by `fileDescriptor.reference` or `sha256`.
   */
  fileName: string;
  /** The descriptor the writer sent. */
  fileDescriptor: FileDescriptor;
  /** The plain bytes, as the user's library would hold them after decryption; empty when the sandbox was created with `keepFileBytes: false`. */
  bytes: Buffer;
  /** Bytes received. */
  size: number;
  /** SHA-256 of the bytes received, hex. */
  sha256: string;
  /** Sandbox clock (ms) when the file was stored. */
  deliveredAt: number;
  /** Which SDK write API delivered it. */
  generation: SandboxGeneration;
}

/**
 * A user's library as the sandbox shows it: its id and the files in it,
 * oldest first.
 *
 * @example
 * ```ts
 * const library: SandboxLibrary | undefined = sandbox.library(libraryId);
 * ```
 */
export interface SandboxLibrary {
  /** The library's id (what `sandbox.libraryIdOf(accessToken)` returns). */
  id: string;
  /** The files delivered into it, oldest first. */
  files: DeliveredFile[];
}

/**
 * Options of `sandbox.consent`, i.e. what the simulated user does.
 *
 * @example
 * ```ts
 * const denied = await sandbox.consent(url, { approve: false, errorCode: "ServiceAuthorizationError" });
 * ```
 */
export interface ConsentOptions {
  /**
   * Approve (default) or deny the request.
   * @defaultValue `true`
   */
  approve?: boolean;
  /**
   * Error code on denial. Default `"UserCancelled"`.
   * @defaultValue `"UserCancelled"`
   */
  errorCode?: string;
  /**
   * Add `state` to a denial redirect. digi.me documents only `success` and
   * `errorCode` on a failure redirect (SDK repository,
   * `documents/create-user/authorizing.md`, "On failure"), so by default the
   * sandbox sends exactly those; set this to test an app against a denial
   * that does carry `state`.
   *
   * @defaultValue `false`
   */
  stateOnDenial?: boolean;
  /**
   * Put the user into this library (created if new) instead of a fresh or linked one.
   * @defaultValue a new library, or the one already linked to the presented token
   */
  libraryId?: string;
}

/**
 * The server operations a fault rule can target. The refresh a write performs
 * internally is its own `"refresh"` operation.
 *
 * @example
 * ```ts
 * const operation: FaultOperation = "refresh";
 * sandbox.faults.add({ operation, status: 503 });
 * ```
 */
export type FaultOperation = "authorize" | "exchange" | "refresh" | "write" | "any";

/**
 * The digi.me endpoints a fault rule can target. The in-process fakes call
 * the same endpoints as the real SDK does over HTTP (`authorize` for
 * getAuthorizeUrl, `token` for exchanges and refreshes, `postbox` for 8.x
 * writes, `import` for 10.x and 16.x writes); `jwks` (the key set the SDK
 * fetches to verify every token) is only reached over HTTP.
 *
 * @example
 * ```ts
 * const endpoint: SandboxEndpoint = "token";
 * sandbox.faults.add({ endpoint, status: 503, retryAfterSeconds: 1, times: 1 });
 * ```
 */
export type SandboxEndpoint = "jwks" | "authorize" | "token" | "postbox" | "import";

/**
 * Network failures a fault rule can simulate; in process each surfaces as a
 * got-style `RequestError` with this `code`. Over HTTP every one of them is a
 * dropped connection: the loopback server destroys the socket (the client
 * sees `ECONNRESET`), msw answers `HttpResponse.error()` (a network error
 * without a code).
 *
 * @example
 * ```ts
 * const network: NetworkErrorCode = "ECONNRESET";
 * ```
 */
export type NetworkErrorCode = "ECONNRESET" | "ETIMEDOUT" | "ECONNREFUSED" | "EAI_AGAIN";

/**
 * A fault to inject. Rules are checked in the order they were added, at the
 * start of each matching server operation; see `sandbox.faults.add`.
 *
 * @example
 * ```ts
 * sandbox.faults.add({ status: 429, retryAfterSeconds: 2, times: 1 });            // HTTPError with Retry-After
 * sandbox.faults.add({ status: 401, errorCode: "InvalidClient" });                 // ServerError
 * sandbox.faults.add({ network: "ECONNRESET", afterAccept: true, times: 1 });       // stored, reply lost
 * sandbox.faults.add({ operation: "any", latencyMs: 200, probability: 0.1 });      // latency spikes
 * sandbox.faults.add({ endpoint: "token", libraryId, status: 503, times: 1 });      // one user's next token call
 * ```
 */
export interface FaultRule {
  /** Which operation to fail. Default `"write"`, or `"any"` when `endpoint` is set. */
  operation?: FaultOperation;
  /**
   * Only calls to this endpoint. A rule that names no endpoint never hits
   * `jwks`, so `operation: "any"` rules leave the SDK's key fetches alone.
   */
  endpoint?: SandboxEndpoint;
  /** Only calls that concern this library. */
  libraryId?: string;
  /**
   * HTTP status to answer with (400–599). Defaults to 400 when only
   * `errorCode` is set and to 503 when only `retryAfterSeconds` is set.
   */
  status?: number;
  /**
   * digi.me error code for a JSON body `{ error: { code, message } }`; the
   * SDK then throws a `ServerError`. Without it the body is empty and the SDK
   * throws got's `HTTPError`.
   */
  errorCode?: string;
  /** Adds a `Retry-After` header (seconds); only `HTTPError` exposes headers, as in the real SDK. */
  retryAfterSeconds?: number;
  /** Fail at the network level instead of with a status. */
  network?: NetworkErrorCode;
  /**
   * Let the operation take effect first, then fail the reply: a write is
   * stored (a retry duplicates it), a refresh rotates the token pair (the new
   * pair is lost), an exchange consumes the code.
   */
  afterAccept?: boolean;
  /** Delay (ms, real timers) before the call proceeds. Alone, a latency spike without failure. */
  latencyMs?: number;
  /** Apply to the next N matching calls only. Default unlimited. */
  times?: number;
  /** Chance (0–1) that a matching call is hit, drawn from the seeded PRNG. Default 1. */
  probability?: number;
}

/**
 * A handle on an added fault rule.
 *
 * @example
 * ```ts
 * const outage = sandbox.faults.add({ status: 503 });
 * await expect(write()).rejects.toMatchObject({ name: "HTTPError" });
 * expect(outage.hits).toBe(1);
 * outage.remove();
 * ```
 */
export interface FaultHandle {
  /** Stop applying this rule. */
  remove(): void;
  /** How many calls this rule has hit so far. */
  readonly hits: number;
}

/**
 * Server-side counters, a live view that `sandbox.resetCounters()` zeroes.
 *
 * @example
 * ```ts
 * expect(sandbox.counters.refreshes).toBe(1);
 * expect(sandbox.counters.failedRefreshes).toBe(1);
 * ```
 */
export interface SandboxCounters {
  /** Successful authorize calls (`getAuthorizeUrl`). */
  authorizeUrls: number;
  /** Successful code exchanges. */
  exchanges: number;
  /** Refresh calls that rotated a token pair (also when the reply was then lost to an `afterAccept` fault). */
  refreshes: number;
  /** Refresh calls that did not rotate anything: used, expired or unknown refresh token, or an injected fault. */
  failedRefreshes: number;
  /** Write requests that reached the server, whatever their outcome. */
  writeAttempts: number;
  /** Files stored (duplicates from `afterAccept` included). */
  deliveries: number;
  /** Calls failed by a fault rule. */
  faultsInjected: number;
}
