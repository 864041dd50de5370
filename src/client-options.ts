/**
 * The options of {@link WriteClient}, their validation and their defaults.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { PendingAuthorizationStore } from "./authorization/pending-store.js";
import { weakSecretReason } from "./authorization/secret-strength.js";
import { parseOrThrow } from "./internal/zod-issues.js";
import { isSupportedSdk } from "./sdk/sdk-port.js";
import type { DigimeSdk, SdkGeneration } from "./sdk/types.js";
import type { PersistRetryOptions } from "./tokens/token-keeper.js";
import type { TokenStore } from "./tokens/token-store.js";
import { DEFAULT_QUEUE_OPTIONS, type QueueOptions, type ResolvedQueueOptions } from "./writing/write-queue.js";
import { DEFAULT_RETRY_OPTIONS, type ResolvedRetryOptions, type RetryOptions } from "./writing/retry-policy.js";

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
  /** Generations A and B only: where digi.me redirects on failure. Default `redirectUri`. */
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
   */
  stateSecret?: string | readonly string[] | undefined;
  /** Where pending authorizations wait for their callback. Default: in memory. */
  pendingAuthorizations?: PendingAuthorizationStore;
  /**
   * Complete an authorization only with its sealed bundle (the cookie set by
   * the browser that started it), never from the pending store alone, which
   * any browser can reach with a stolen consent URL. Per call:
   * `completeAuthorization(..., { requireSealed })`. Default false.
   */
  requireSealedBundle?: boolean;
  /** How long an authorization may take, in ms. Default 15 minutes. */
  authorizationTtlMs?: number;
  /** Queue settings. */
  queue?: QueueOptions;
  /** Retry settings. */
  retry?: RetryOptions;
  /** Refresh proactively (SDKs with `refreshToken`) when the access token expires within this many ms. Default 60,000. */
  refreshWindowMs?: number;
  /** How a failing token store is retried. */
  persistRetry?: Partial<PersistRetryOptions>;
  /**
   * A token store call that has not answered after this many ms counts as
   * failed (and is retried like one), so a hung store cannot hold writes or
   * `close()` up. Default 10,000.
   */
  storeTimeoutMs?: number;
  /** Force the SDK generation instead of detecting it. */
  sdkGeneration?: SdkGeneration;
  /** Clock in epoch ms. Default `Date.now`; pass `sandbox.now` in tests that move time. */
  now?: () => number;
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
  retry: ResolvedRetryOptions;
  refreshWindowMs: number;
  persistRetry: PersistRetryOptions;
  storeTimeoutMs: number;
  sdkGeneration: SdkGeneration | undefined;
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

const optionsSchema = z.object({
  sdk: z.custom<DigimeSdk>(
    isSupportedSdk,
    "must be an SDK instance (init() of @digime/digime-sdk-nodejs >= 5) with getAuthorizeUrl, exchangeCodeForToken and write or pushData",
  ),
  contractDetails: z.object({
    contractId: z.string().min(1, "must not be empty").max(256, "must be at most 256 characters"),
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
  queue: z
    .object({
      concurrency: z.number().int().min(1).max(10_000).optional(),
      perUserConcurrency: z.number().int().min(1).max(1000).optional(),
      maxQueued: z.number().int().min(1).optional(),
      maxQueuedPerUser: z.number().int().min(1).optional(),
      maxQueuedBytes: z.number().int().min(1).optional(),
    })
    .optional(),
  retry: z
    .object({
      retries: z.number().int().min(0).max(100).optional(),
      minDelayMs: z.number().min(0).max(3_600_000).optional(),
      maxDelayMs: z.number().min(0).max(3_600_000).optional(),
      factor: z.number().min(1).max(10).optional(),
      jitter: z.boolean().optional(),
      maxRetryAfterMs: z.number().min(0).max(3_600_000).optional(),
    })
    .optional(),
  refreshWindowMs: z.number().int().min(0).max(24 * 60 * 60 * 1000).optional(),
  persistRetry: z
    .object({
      inlineAttempts: z.number().int().min(1).max(20).optional(),
      minDelayMs: z.number().min(0).max(60_000).optional(),
      maxDelayMs: z.number().min(0).max(3_600_000).optional(),
    })
    .optional(),
  storeTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  sdkGeneration: z.enum(["A", "B", "C"]).optional(),
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
    queue: { ...DEFAULT_QUEUE_OPTIONS, ...stripUndefined(o.queue) },
    retry: { ...DEFAULT_RETRY_OPTIONS, ...stripUndefined(o.retry) },
    refreshWindowMs: o.refreshWindowMs ?? 60_000,
    persistRetry: { inlineAttempts: 3, minDelayMs: 50, maxDelayMs: 30_000, ...stripUndefined(o.persistRetry) },
    storeTimeoutMs: o.storeTimeoutMs ?? 10_000,
    sdkGeneration: o.sdkGeneration,
    now: o.now ?? Date.now,
  };
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
