/**
 * The options of {@link WriteClient}, their validation and their defaults.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { PendingAuthorizationStore } from "./stores/pending-store.js";
import { idSchema } from "./internal/ids.js";
import { weakSecretReason } from "./authorization/secret-strength.js";
import { parseOrThrow } from "./internal/zod-issues.js";
import { isSupportedSdk } from "./sdk/sdk-port.js";
import type { DigimeSdk, SdkGeneration } from "./sdk/types.js";
import { DEFAULT_DIGIME_BASE_URL, DEFAULT_DIGIME_TIMEOUT_MS } from "./sdk/wire/token-endpoint.js";
import type { PersistRetryOptions, RefreshCoordinationOptions } from "./tokens/token-keeper.js";
import type { TokenStore } from "./stores/token-store.js";
import { QUEUE_DEFAULTS, type QueueOptions, type ResolvedQueueOptions } from "./scheduling/lane-scheduler.js";
import { RETRY_DEFAULTS, type ResolvedRetryOptions, type RetryOptions } from "./writing/retry-policy.js";
import { createOpenTelemetry, type OpenTelemetryOptions } from "./telemetry/opentelemetry.js";
import { NO_TELEMETRY, type Telemetry } from "./telemetry/telemetry.js";

/**
 * Options of {@link WriteClient}.
 *
 * @example
 * ```ts
 * const options: WriteClientOptions = {
 *   sdk: init({ applicationId: process.env.DIGIME_APPLICATION_ID! }),
 *   contractDetails: { contractId: process.env.DIGIME_CONTRACT_ID!, privateKey: process.env.DIGIME_PRIVATE_KEY! },
 *   redirectUri: "https://app.example/digime/callback",
 *   tokenStore: new FileTokenStore({ path: "/var/lib/app/digime-tokens.json" }),
 *   stateSecret: process.env.DIGIME_STATE_SECRET,
 * };
 * ```
 */
export interface WriteClientOptions {
  /** An SDK instance: `init()` of `@digime/digime-sdk-nodejs` 5.x to 17.x (the peer range), or `sandbox.sdk(...)`. */
  sdk: DigimeSdk;
  /** Your write contract: its id and PKCS#1 PEM private key. */
  contractDetails: {
    /** The contract's id from the digi.me developer console. */
    contractId: string;
    /** The contract's PKCS#1 PEM private key. A secret. */
    privateKey: string;
  };
  /** Absolute URL digi.me redirects to after consent. */
  redirectUri: string;
  /**
   * Generations A and B only: where digi.me redirects on failure. Default `redirectUri`.
   * @defaultValue `redirectUri`
   */
  errorRedirectUri?: string;
  /** Where user credentials live. Use `MemoryTokenStore` in tests, `FileTokenStore` on one machine, your own across machines. */
  tokenStore: TokenStore;
  /**
   * Secret(s) that seal authorization bundles: each the base64, base64url or
   * hex text of at least 32 random bytes (`openssl rand -base64 32`); short,
   * repetitive or non-encoded strings are refused. The first seals; all open,
   * so put a new secret first and keep the old one listed until bundles
   * sealed under it have expired. When absent, a random secret is made per
   * process: sealed bundles then open only in this process.
   * @defaultValue a random secret made per process (sealed bundles then open only in this process)
   */
  stateSecret?: string | readonly string[] | undefined;
  /**
   * Where pending authorizations wait for their callback. Default: in memory.
   * @defaultValue a `MemoryPendingAuthorizationStore`
   */
  pendingAuthorizations?: PendingAuthorizationStore;
  /**
   * Never complete from the pending store, even when a call passes
   * `allowPendingStore`. (By default a callback completes only with its sealed
   * bundle anyway; the pending store needs `allowPendingStore` and
   * `expectedUserId` on the call.) Per call:
   * `completeAuthorization(..., { requireSealed })`. Default false.
   * @defaultValue `false`
   */
  requireSealedBundle?: boolean;
  /**
   * How long an authorization may take, in ms. Default 15 minutes.
   * @defaultValue `900_000` (15 minutes)
   */
  authorizationTtlMs?: number;
  /**
   * Queue settings.
   * @defaultValue `QUEUE_DEFAULTS`
   */
  queue?: QueueOptions;
  /**
   * Retry settings.
   * @defaultValue `RETRY_DEFAULTS`
   */
  retry?: RetryOptions;
  /**
   * Refresh proactively (SDKs with `refreshToken`) when the access token
   * expires within this many ms. Capped at half the token's lifetime, so a
   * window longer than the tokens live never makes every write refresh.
   * Default 60,000.
   * @defaultValue `60_000`
   */
  refreshWindowMs?: number;
  /**
   * How refreshes are coordinated with other processes that share the token
   * store (stores with refresh leases: `MemoryTokenStore`, `FileTokenStore`,
   * `RedisTokenStore`, `PostgresTokenStore`). Defaults: `leaseMs` 3,000
   * (renewed while the refresh runs; at least 10,000 on a store that cannot
   * renew leases), `holderWaitMs` 15,000, `newerTokenWaitMs` 3,000.
   * @defaultValue `{ leaseMs: 3_000, holderWaitMs: 15_000, newerTokenWaitMs: 3_000 }`
   */
  refreshCoordination?: Partial<RefreshCoordinationOptions>;
  /**
   * A user's in-memory state (a cached token and version) is released after
   * this many ms without a write, so memory follows active users rather than
   * every user ever written to. Default 60,000.
   * @defaultValue `60_000`
   */
  idleUserMs?: number;
  /**
   * How a failing token store is retried.
   * @defaultValue `{ inlineAttempts: 3, minDelayMs: 50, maxDelayMs: 30_000 }`
   */
  persistRetry?: Partial<PersistRetryOptions>;
  /**
   * A token store call that has not answered after this many ms counts as
   * failed (and is retried like one), so a hung store cannot hold writes or
   * `close()` up. Default 10,000.
   * @defaultValue `10_000`
   */
  storeTimeoutMs?: number;
  /**
   * Force the SDK generation instead of detecting it.
   * @defaultValue detected from the SDK's methods
   */
  sdkGeneration?: SdkGeneration;
  /**
   * How to reach digi.me's API directly: the `applicationId` (and `baseUrl`,
   * when not the default) you give the SDK's `init()`. With it, the client
   * refreshes tokens itself, proactively and one at a time, when the SDK has
   * no public `refreshToken` (generations A and B, SDK 5.x–10.x, and 11.x–12.x):
   * the way to make those generations keep every token. Without it they can
   * lose a user's token pair when a write fails right after the SDK refreshed
   * inside it (see docs/sdk-generations.md). Not needed for SDK 13.x and later.
   * @defaultValue none: the SDK refreshes tokens itself (generation C), or cannot
   */
  digimeApi?: DigimeApiOptions;
  /**
   * OpenTelemetry traces and metrics (see docs/observability.md): a span per
   * authorization step, per write (from `write()` to settlement, a child of
   * the caller's active span), per attempt, refresh and token store call;
   * counters and histograms of writes, attempts, retries, refreshes, persist
   * failures and the queue. Needs the optional peer dependency
   * `@opentelemetry/api` and an SDK you register; `true` uses the global
   * providers. No token or secret is ever put on a span or metric.
   * @defaultValue false (nothing is loaded, nothing recorded)
   */
  opentelemetry?: boolean | OpenTelemetryOptions;
  /**
   * Clock in epoch ms. Default `Date.now`; pass `sandbox.now` in tests that move time.
   * @defaultValue `Date.now`
   */
  now?: () => number;
}

/**
 * Option `digimeApi` of {@link WriteClient}: the same `applicationId` and
 * `baseUrl` given to the SDK's `init()`.
 *
 * @example
 * ```ts
 * const api: DigimeApiOptions = { applicationId: process.env.DIGIME_APPLICATION_ID! };
 * new WriteClient({ ...options, sdk: init(api), digimeApi: api });
 * ```
 */
export interface DigimeApiOptions {
  /** Your application id from digi.me (what `init({ applicationId })` takes). */
  applicationId: string;
  /**
   * The API root, as given to `init({ baseUrl })`; an absolute http(s) URL.
   * A missing trailing `/` is added.
   * @defaultValue `"https://api.digi.me/v1.7/"`
   */
  baseUrl?: string;
  /**
   * A call to digi.me that has not answered after this many ms fails (and
   * is retried like a dropped connection). 1,000–120,000.
   * @defaultValue 30,000
   */
  timeoutMs?: number;
}

/** Options after validation, with defaults. */
export interface ResolvedOptions {
  sdk: DigimeSdk;
  contractDetails: { contractId: string; privateKey: string };
  redirectUri: string;
  errorRedirectUri: string | undefined;
  tokenStore: TokenStore;
  stateSecrets: string[];
  pendingAuthorizations: PendingAuthorizationStore | undefined;
  requireSealedBundle: boolean;
  authorizationTtlMs: number;
  queue: ResolvedQueueOptions;
  /** What the caller chose of the queue settings whose defaults follow the SDK's refresh ability. */
  queueChosen: Pick<QueueOptions, "perUserConcurrency" | "lendIdleSlots">;
  retry: ResolvedRetryOptions;
  refreshWindowMs: number;
  refreshCoordination: RefreshCoordinationOptions;
  idleUserMs: number;
  persistRetry: PersistRetryOptions;
  storeTimeoutMs: number;
  sdkGeneration: SdkGeneration | undefined;
  digimeApi: { applicationId: string; baseUrl: string; timeoutMs: number } | undefined;
  /** The telemetry seam: a no-op unless `opentelemetry` is set. */
  telemetry: Telemetry;
  now: () => number;
}

const absoluteUrl = z.url({ protocol: /^https?$/, error: "must be an absolute http(s) URL" }).max(2048, "must be at most 2048 characters");
const fn = (name: string) => z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", `must have a ${name}() method`);
const secret = z
  .string()
  .max(4096, "must be at most 4096 characters")
  .superRefine((value, ctx) => {
    const reason = weakSecretReason(value);
    if (reason !== undefined) ctx.addIssue({ code: "custom", message: reason });
  });

/**
 * A strict object: an unknown key (a misspelt option such as `refreshWindowMS`)
 * is refused by name, never silently ignored. Own `__proto__`/`constructor`
 * keys (as JSON.parse makes them) are dropped first: they are pollution
 * attempts, ignored rather than obeyed, not misspellings.
 */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.preprocess((value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
    return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "__proto__" && key !== "constructor"));
  }, z.strictObject(shape));
}

const optionsSchema = strict({
  sdk: z.custom<DigimeSdk>(
    isSupportedSdk,
    "must be an SDK instance (init() of @digime/digime-sdk-nodejs >= 5) with getAuthorizeUrl, exchangeCodeForToken and write or pushData",
  ),
  // Not strict: A/B users often pass the SDK's own ContractDetails, which carries redirectUri too.
  contractDetails: z.object({
    contractId: idSchema(256),
    privateKey: z
      .string()
      .max(32_768, "must be at most 32768 characters")
      .refine((pem) => /-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem), "must be a PEM private key"),
  }),
  redirectUri: absoluteUrl,
  errorRedirectUri: absoluteUrl.optional(),
  tokenStore: z.object({ get: fn("get"), set: fn("set"), delete: fn("delete"), listByUser: fn("listByUser") }, { error: "is required: pass a TokenStore such as new MemoryTokenStore()" }),
  stateSecret: z.union([secret, z.array(secret).min(1, "must list at least one secret").max(16, "must list at most 16 secrets")]).optional(),
  pendingAuthorizations: z.object({ save: fn("save"), consume: fn("consume") }).optional(),
  requireSealedBundle: z.boolean().optional(),
  authorizationTtlMs: z.number().int().min(10_000).max(24 * 60 * 60 * 1000).optional(),
  queue: strict({
      concurrency: z.number().int().min(1).max(10_000).optional(),
      perUserConcurrency: z.number().int().min(1).max(1000).optional(),
      lendIdleSlots: z.boolean().optional(),
      maxQueued: z.number().int().min(1).optional(),
      maxQueuedPerUser: z.number().int().min(1).optional(),
      maxQueuedBytes: z.number().int().min(1).optional(),
    })
    .optional(),
  retry: strict({
      retries: z.number().int().min(0).max(100).optional(),
      minDelayMs: z.number().min(0).max(3_600_000).optional(),
      maxDelayMs: z.number().min(0).max(3_600_000).optional(),
      factor: z.number().min(1).max(10).optional(),
      jitter: z.boolean().optional(),
      maxRetryAfterMs: z.number().min(0).max(3_600_000).optional(),
    })
    .optional(),
  refreshWindowMs: z.number().int().min(0).max(24 * 60 * 60 * 1000).optional(),
  refreshCoordination: strict({
      leaseMs: z.number().int().min(100).max(600_000).optional(),
      holderWaitMs: z.number().int().min(0).max(600_000).optional(),
      newerTokenWaitMs: z.number().int().min(0).max(600_000).optional(),
    })
    .optional(),
  idleUserMs: z.number().int().min(10).max(24 * 60 * 60 * 1000).optional(),
  persistRetry: strict({
      inlineAttempts: z.number().int().min(1).max(20).optional(),
      minDelayMs: z.number().min(0).max(60_000).optional(),
      maxDelayMs: z.number().min(0).max(3_600_000).optional(),
    })
    .optional(),
  storeTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  sdkGeneration: z.enum(["A", "B", "C"]).optional(),
  digimeApi: strict({
      applicationId: z.string().min(1, "must not be empty").max(256, "must be at most 256 characters"),
      baseUrl: absoluteUrl.optional(),
      timeoutMs: z.number().int().min(1000).max(120_000).optional(),
    })
    .optional(),
  // true/false pass as they are; an object is checked key by key (a union would only say "Invalid input").
  opentelemetry: z
    .preprocess(
      (value) => (typeof value === "boolean" ? undefined : value),
      strict({
        api: z
          .custom<NonNullable<OpenTelemetryOptions["api"]>>(
            (value) => typeof value === "object" && value !== null && ["trace", "context", "metrics"].every((k) => typeof (value as Record<string, unknown>)[k] === "object"),
            "must be the @opentelemetry/api module (with trace, context and metrics)",
          )
          .optional(),
        tracerProvider: z.object({ getTracer: fn("getTracer") }).optional(),
        meterProvider: z.object({ getMeter: fn("getMeter") }).optional(),
        includeUserId: z.boolean().optional(),
      }).optional(),
    )
    .optional(),
  now: z.custom<() => number>((value) => typeof value === "function", "must be a function returning epoch ms").optional(),
});

/** Validate and complete the options; throws `ValidationError` (`INVALID_OPTIONS`) naming each bad field. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const o = parseOrThrow(optionsSchema, input, "INVALID_OPTIONS", "options");
  const secrets = o.stateSecret === undefined ? [randomBytes(32).toString("base64url")] : typeof o.stateSecret === "string" ? [o.stateSecret] : [...o.stateSecret];
  return {
    sdk: o.sdk,
    contractDetails: { contractId: o.contractDetails.contractId, privateKey: o.contractDetails.privateKey },
    redirectUri: o.redirectUri,
    errorRedirectUri: o.errorRedirectUri,
    tokenStore: (input as WriteClientOptions).tokenStore,
    stateSecrets: secrets,
    pendingAuthorizations: (input as WriteClientOptions).pendingAuthorizations,
    requireSealedBundle: o.requireSealedBundle ?? false,
    authorizationTtlMs: o.authorizationTtlMs ?? 15 * 60 * 1000,
    queue: { ...QUEUE_DEFAULTS, ...stripUndefined(o.queue) },
    queueChosen: { perUserConcurrency: o.queue?.perUserConcurrency, lendIdleSlots: o.queue?.lendIdleSlots },
    retry: { ...RETRY_DEFAULTS, ...stripUndefined(o.retry) },
    refreshWindowMs: o.refreshWindowMs ?? 60_000,
    refreshCoordination: { leaseMs: 3_000, holderWaitMs: 15_000, newerTokenWaitMs: 3_000, ...stripUndefined(o.refreshCoordination) },
    idleUserMs: o.idleUserMs ?? 60_000,
    persistRetry: { inlineAttempts: 3, minDelayMs: 50, maxDelayMs: 30_000, ...stripUndefined(o.persistRetry) },
    storeTimeoutMs: o.storeTimeoutMs ?? 10_000,
    sdkGeneration: o.sdkGeneration,
    digimeApi:
      o.digimeApi === undefined
        ? undefined
        : {
            applicationId: o.digimeApi.applicationId,
            baseUrl: withTrailingSlash(o.digimeApi.baseUrl ?? DEFAULT_DIGIME_BASE_URL),
            timeoutMs: o.digimeApi.timeoutMs ?? DEFAULT_DIGIME_TIMEOUT_MS,
          },
    telemetry: telemetryOf((input as WriteClientOptions).opentelemetry),
    now: o.now ?? Date.now,
  };
}

/** The seam for option `opentelemetry` (already validated): loads the API only when asked to. */
function telemetryOf(option: WriteClientOptions["opentelemetry"]): Telemetry {
  if (option === undefined || option === false) return NO_TELEMETRY;
  return createOpenTelemetry(option);
}

function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
