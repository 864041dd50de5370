/**
 * Begin and complete the authorization redirect flow. Every check on the way
 * back is explicit and happens before the code is exchanged: callback shape,
 * bundle integrity, state equality (constant time), expiry, one-time use, and
 * the user the app expects.
 *
 * Safe by default: a callback completes only with the sealed bundle (the
 * cookie proves this browser began the authorization) or, when the app opts
 * in to the pending store, with `expectedUserId` (the signed-in user). A
 * callback matched through the shared pending store alone would let a victim
 * who approves a link an attacker began link their library to the attacker.
 */
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  AuthorizationDeniedError,
  AuthorizationStartError,
  AuthorizationStateError,
  AuthorizationUserMismatchError,
  DigimeWriteError,
  TokenExchangeError,
  ValidationError,
} from "../errors.js";
import type { EmitEvent } from "../events.js";
import { sanitizeError } from "../internal/redact.js";
import { withBackoff } from "../internal/backoff.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import { decide, describeSdkFailure, SdkCallError } from "../sdk/sdk-failure.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import type { UserAccessToken } from "../sdk/types.js";
import type { TokenKeeper } from "../tokens/token-keeper.js";
import { userIdSchema } from "../internal/ids.js";
import { authorizationBundleSchema, type AuthorizationBundle } from "./bundle.js";
import { parseCallback, type CallbackInput, type ParsedCallback } from "./callback.js";
import type { PendingAuthorizationStore } from "../stores/pending-store.js";
import type { Sealer } from "./seal.js";

/**
 * Input of {@link WriteClient.beginAuthorization}.
 *
 * @example
 * ```ts
 * await client.beginAuthorization({ userId: "alice", context: { returnTo: "/settings" }, serviceId: 420 });
 * ```
 */
export interface BeginAuthorizationInput {
  /** Your id for the user being authorized. */
  userId: string;
  /**
   * JSON data returned on completion (at most 2 KiB serialized), e.g. where
   * to send the user next. It travels in the sealed cookie, which must stay
   * under browsers' 4 KiB cookie limit.
   */
  context?: unknown;
  /** digi.me service to onboard during consent. */
  serviceId?: number;
  /** Lifetime of this authorization in ms; default the client's `authorizationTtlMs`. */
  ttlMs?: number;
}

/**
 * Result of {@link WriteClient.beginAuthorization}.
 *
 * @example
 * ```ts
 * const { url, sealed, expiresAt }: BeginAuthorizationResult = await client.beginAuthorization({ userId });
 * res.cookie("digime_auth", sealed, { httpOnly: true, expires: new Date(expiresAt) }).redirect(url);
 * ```
 */
export interface BeginAuthorizationResult {
  /** Where to redirect the user. */
  url: string;
  /** The random state carried through digi.me (not secret, but unguessable). */
  state: string;
  /** The bundle sealed under `stateSecret`: put it in an httpOnly cookie and pass it to `completeAuthorization`. */
  sealed: string;
  /** Epoch ms after which completion is refused. */
  expiresAt: number;
}

/**
 * Options of {@link WriteClient.completeAuthorization}.
 *
 * @example
 * ```ts
 * await client.completeAuthorization(req.query, { sealed: req.cookies.digime_auth });
 * ```
 */
export interface CompleteAuthorizationOptions {
  /**
   * The `sealed` value from `beginAuthorization` (kept in a cookie, say).
   * Without it a callback completes only through the pending store, which
   * needs `allowPendingStore: true` and `expectedUserId`.
   * @defaultValue none: only the pending store can complete the callback, with `allowPendingStore` and `expectedUserId`
   */
  sealed?: string;
  /**
   * The user signed in to the browser that brings the callback. When given, a
   * bundle issued for anyone else is refused (`AUTHORIZATION_USER_MISMATCH`)
   * before the code is exchanged, so a consent URL started by one user and
   * approved by another never stores a token. Pass it whenever you know the
   * user; it is required with `allowPendingStore`.
   * @defaultValue none: the bundle's user is not compared with anyone
   */
  expectedUserId?: string;
  /**
   * Complete a callback that came without `sealed` through the pending
   * authorization store (for apps that cannot keep a cookie). The store is
   * shared by every browser, so this also needs `expectedUserId`: without it,
   * a victim who approves a link an attacker began would link the victim's
   * library to the attacker's account.
   *
   * @defaultValue `false`
   */
  allowPendingStore?: boolean;
  /**
   * Refuse the pending store even when `allowPendingStore` is set.
   *
   * @defaultValue the client's `requireSealedBundle` (`false`)
   */
  requireSealed?: boolean;
}

/**
 * Result of {@link WriteClient.completeAuthorization}.
 *
 * @example
 * ```ts
 * const { userId, context }: CompleteAuthorizationResult = await client.completeAuthorization(req.query, { sealed });
 * res.redirect((context as { returnTo?: string }).returnTo ?? `/users/${userId}`);
 * ```
 */
export interface CompleteAuthorizationResult {
  /** The user the authorization was for (from the bundle, not from the callback). */
  userId: string;
  /** The `context` given to `beginAuthorization`. */
  context: unknown;
  /** Whether the callback carried a postbox (generation A write contracts). */
  hasPostbox: boolean;
  /** Whether the new token reached the store (false: held in memory and retried). */
  persisted: boolean;
}

const MAX_CONTEXT_BYTES = 2048;
/**
 * Longest sealed bundle `beginAuthorization` hands out: browsers keep at most
 * 4,096 bytes per cookie, name and attributes included, and silently drop a
 * larger one (the callback would then fail without a clear reason).
 */
const MAX_SEALED_COOKIE_LENGTH = 3800;
const EXCHANGE_ATTEMPTS = 3;
const MAX_SEALED_LENGTH = 16_384;

const beginSchema = z.object({
  userId: userIdSchema,
  context: z
    .unknown()
    .optional()
    .refine((value) => {
      if (value === undefined) return true;
      try {
        const json = JSON.stringify(value);
        return json !== undefined && Buffer.byteLength(json) <= MAX_CONTEXT_BYTES;
      } catch {
        return false;
      }
    }, `must be JSON-serializable and at most ${MAX_CONTEXT_BYTES} bytes`),
  serviceId: z.number().int().positive().optional(),
  ttlMs: z.number().int().min(1000).max(24 * 60 * 60 * 1000).optional(),
});

const completeOptionsSchema = z
  .object({
    sealed: z.string().min(1).max(MAX_SEALED_LENGTH).optional(),
    expectedUserId: userIdSchema.optional(),
    allowPendingStore: z.boolean().optional(),
    requireSealed: z.boolean().optional(),
  })
  .optional();

/** Constant-time equality of two strings of any length (compares digests). */
function safeEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

/** The bundle as JSON with sorted keys, so two bundles compare as a whole (a store may reorder keys, as jsonb does). */
function canonicalBundle(bundle: AuthorizationBundle): string {
  const { state, codeVerifier, userId, contractId, expiresAt, context } = bundle;
  return JSON.stringify([state, codeVerifier, userId, contractId, expiresAt, sortKeys(context ?? null)]);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/** Everything the authorizer needs. */
export interface AuthorizerDeps {
  port: SdkPort;
  keeper: TokenKeeper;
  sealer: Sealer;
  pending: PendingAuthorizationStore;
  emit: EmitEvent;
  now: () => number;
  contractId: string;
  ttlMs: number;
  /**
   * Whether states carry a MAC every instance can check: true when the app
   * configured `stateSecret`. Without one each process draws its own secret,
   * so a state begun on another instance could not be checked here.
   */
  checkStateMac: boolean;
  /** Client default of {@link CompleteAuthorizationOptions.requireSealed}. */
  requireSealed: boolean;
  /** Spans of begin and complete. Default: off. */
  telemetry?: Telemetry;
}

/** Begin and complete, with the checks listed above; each `WriteClient` has one. */
export class Authorizer {
  readonly #deps: AuthorizerDeps;

  constructor(deps: AuthorizerDeps) {
    this.#deps = deps;
  }

  begin(input: unknown): Promise<BeginAuthorizationResult> {
    const userId = (input as { userId?: unknown } | undefined)?.userId;
    return this.#traced("digime.authorization.begin", typeof userId === "string" ? userId : undefined, () => this.#begin(input), () => undefined);
  }

  complete(callbackInput: unknown, options: unknown): Promise<CompleteAuthorizationResult> {
    return this.#traced("digime.authorization.complete", undefined, () => this.#complete(callbackInput, options), (result) => result.userId);
  }

  /** Run one authorization step in a span (its store and SDK calls nest under it). */
  async #traced<T>(name: string, userId: string | undefined, run: () => Promise<T>, userOf: (result: T) => string | undefined): Promise<T> {
    const telemetry = this.#deps.telemetry ?? NO_TELEMETRY;
    if (!telemetry.enabled) return run();
    const step = telemetry.start(name, { "digime.contract.id": this.#deps.contractId });
    let result: T;
    try {
      result = await step.run(run);
    } catch (error) {
      const user = error instanceof AuthorizationDeniedError ? error.userId : userId;
      if (telemetry.includeUserId && user !== undefined) step.set({ "user.id": user });
      step.end(error);
      throw error;
    }
    const user = userOf(result) ?? userId;
    if (telemetry.includeUserId && user !== undefined) step.set({ "user.id": user });
    step.end();
    return result;
  }

  async #begin(input: unknown): Promise<BeginAuthorizationResult> {
    const parsed = parseOrThrow(beginSchema, input, "INVALID_ARGUMENT", "input");
    const { port, keeper, sealer, pending, now, contractId } = this.#deps;
    // Random, with a MAC under the state secret: a forged state is refused before any store is asked (so costs no storage).
    const state = await sealer.newState();
    const existing = await keeper.linkableToken(parsed.userId);
    let authorizeUrl: { url: string; codeVerifier: string };
    try {
      authorizeUrl = await port.getAuthorizeUrl({ state, serviceId: parsed.serviceId, userAccessToken: existing });
    } catch (error) {
      if (error instanceof DigimeWriteError) throw error;
      // The SDK's error may carry the request: the linked user's token among it. Keep a sanitized description only.
      const info = describeSdkFailure(error, existing === undefined ? [] : [existing.accessToken.value, existing.refreshToken.value], now());
      throw new AuthorizationStartError(`Getting the authorization URL failed: ${info.message}`, decide(info) === "retry", { cause: new SdkCallError(info) });
    }
    const { url, codeVerifier } = authorizeUrl;
    const expiresAt = now() + (parsed.ttlMs ?? this.#deps.ttlMs);
    const bundle: AuthorizationBundle = {
      state,
      codeVerifier,
      userId: parsed.userId,
      contractId,
      expiresAt,
      ...(parsed.context === undefined ? {} : { context: JSON.parse(JSON.stringify(parsed.context)) as unknown }),
    };
    // Sealed (and checked) before it is saved, so a refused bundle leaves nothing behind.
    const sealed = await sealer.seal(bundle);
    if (sealed.length > MAX_SEALED_COOKIE_LENGTH) {
      const path = parsed.context === undefined ? "input.userId" : "input.context";
      throw new ValidationError("INVALID_ARGUMENT", "input", [
        { path, message: `makes the sealed bundle ${sealed.length} characters, over the ${MAX_SEALED_COOKIE_LENGTH} that fit a browser cookie; pass less context` },
      ]);
    }
    try {
      await pending.save(bundle);
    } catch (error) {
      const cause = sanitizeError(error, [codeVerifier, state]);
      throw new AuthorizationStartError(`Saving the pending authorization failed: ${cause.message}`, true, { cause });
    }
    return { url, state, sealed, expiresAt };
  }

  async #complete(callbackInput: unknown, options: unknown): Promise<CompleteAuthorizationResult> {
    let userId: string | undefined;
    try {
      const parsedOptions = parseOrThrow(completeOptionsSchema, options, "INVALID_ARGUMENT", "options") ?? {};
      const { sealed, expectedUserId } = parsedOptions;
      const requireSealed = parsedOptions.requireSealed ?? this.#deps.requireSealed;
      const allowPendingStore = parsedOptions.allowPendingStore === true && !requireSealed;
      if (parsedOptions.allowPendingStore === true && expectedUserId === undefined) {
        throw new ValidationError("INVALID_ARGUMENT", "options", [
          { path: "options.expectedUserId", message: "is required with allowPendingStore: the pending store is not tied to the browser, so only the signed-in user proves whose callback this is" },
        ]);
      }
      const callback = parseCallback(callbackInput as CallbackInput);
      if (!callback.success) {
        // Before anything is consumed: a denial carries no proof (see #denied).
        const denied = await this.#denied(callback, sealed, expectedUserId);
        userId = denied.userId;
        throw denied;
      }
      if (sealed === undefined && !allowPendingStore) {
        // The pending store is shared by every browser; only the cookie (or the signed-in user, when the app opts in) ties the callback to the one who began it.
        throw new AuthorizationStateError(
          "STATE_UNKNOWN",
          requireSealed
            ? "No sealed authorization bundle came with the callback, and requireSealed refuses the pending store"
            : "No sealed authorization bundle came with the callback: pass the `sealed` value from beginAuthorization (or allowPendingStore with expectedUserId)",
        );
      }
      const bundle = sealed === undefined ? await this.#fromPendingStore(callback) : await this.#fromSealed(callback, sealed);
      userId = bundle.userId;
      // Before the exchange: a code approved by one user must never be stored under another.
      // authorization:failed then names the user who began it (the one who sent the link), for the app's records.
      if (expectedUserId !== undefined && !safeEqual(expectedUserId, bundle.userId)) throw new AuthorizationUserMismatchError();
      return await this.#finish(bundle, callback);
    } catch (error) {
      // A foreign error (from a custom pending store, say) is described, never passed on with whatever it references.
      const typed = error instanceof DigimeWriteError ? error : new TokenExchangeError("Authorization failed unexpectedly", false, { cause: sanitizeError(error) });
      this.#deps.emit("authorization:failed", { userId, error: typed });
      throw typed;
    }
  }

  /**
   * A denial as digi.me sends it: `success=false` and `errorCode`, no `state`
   * (SDK repository, documents/create-user/authorizing.md and
   * documents/create-user/reauthorizing.md, "On failure"). Anyone can send
   * that URL, so a denial consumes nothing: a forged one cannot make the real
   * callback that follows fail. With the sealed bundle it names the user (and
   * a state, when one is present, must match it).
   */
  async #denied(callback: Extract<ParsedCallback, { success: false }>, sealed: string | undefined, expectedUserId: string | undefined): Promise<AuthorizationDeniedError> {
    if (sealed === undefined) return new AuthorizationDeniedError(callback.errorCode, undefined);
    const opened = await this.#open(sealed);
    if (callback.state !== undefined && !safeEqual(callback.state, opened.state)) {
      throw new AuthorizationStateError("STATE_MISMATCH", "The callback's state does not match the sealed authorization bundle");
    }
    if (expectedUserId !== undefined && !safeEqual(expectedUserId, opened.userId)) throw new AuthorizationUserMismatchError();
    return new AuthorizationDeniedError(callback.errorCode, opened.userId);
  }

  /** Open and check the sealed bundle for this callback, consuming its state. */
  async #fromSealed(callback: Extract<ParsedCallback, { success: true }>, sealed: string): Promise<AuthorizationBundle> {
    const { pending, now } = this.#deps;
    const opened = await this.#open(sealed);
    if (!safeEqual(callback.state, opened.state)) {
      throw new AuthorizationStateError("STATE_MISMATCH", "The callback's state does not match the sealed authorization bundle");
    }
    const consumed = await pending.consume(opened.state, opened.expiresAt);
    // Expiry first: the bundle carries it, so an expired bundle is reported as expired however often it comes back.
    if (opened.expiresAt <= now()) throw new AuthorizationStateError("STATE_EXPIRED", "The authorization expired before the callback arrived");
    if (consumed.status === "used") throw new AuthorizationStateError("STATE_REPLAYED", "This authorization was already used");
    // The whole bundle, not just the verifier: a store that holds something else under this state is not this authorization.
    if (consumed.status === "found" && !safeEqual(canonicalBundle(consumed.bundle), canonicalBundle(opened))) {
      throw new AuthorizationStateError("STATE_TAMPERED", "The sealed bundle differs from the pending authorization");
    }
    return opened;
  }

  /**
   * Find the bundle in the pending store (the app opted in and named the
   * signed-in user). The state's MAC is checked first (when a `stateSecret`
   * is configured), so a forged state is refused without asking the store and
   * leaves nothing behind in it.
   */
  async #fromPendingStore(callback: Extract<ParsedCallback, { success: true }>): Promise<AuthorizationBundle> {
    const { pending, now, sealer } = this.#deps;
    if (this.#deps.checkStateMac && !(await sealer.checkState(callback.state))) {
      throw new AuthorizationStateError("STATE_UNKNOWN", "The callback's state was not issued by this application (forged, or issued under a state secret no longer configured)");
    }
    const consumed = await pending.consume(callback.state, now() + this.#deps.ttlMs);
    if (consumed.status === "used") throw new AuthorizationStateError("STATE_REPLAYED", "This authorization was already used");
    if (consumed.status === "unknown") {
      throw new AuthorizationStateError("STATE_UNKNOWN", "The callback's state matches no pending authorization (expired, or from another server)");
    }
    const bundle = consumed.bundle;
    // The store returned it by key, but compare anyway: a custom store may match loosely.
    if (!safeEqual(bundle.state, callback.state)) throw new AuthorizationStateError("STATE_MISMATCH", "The pending authorization's state does not match the callback");
    if (bundle.expiresAt <= now()) throw new AuthorizationStateError("STATE_EXPIRED", "The authorization expired before the callback arrived");
    return bundle;
  }

  async #open(sealed: string): Promise<AuthorizationBundle> {
    const opened = await this.#deps.sealer.open(sealed);
    if (!opened.ok) {
      throw new AuthorizationStateError(
        "STATE_TAMPERED",
        "The sealed authorization bundle cannot be opened: it was altered, is not a sealed bundle, or was sealed under a secret that is no longer configured",
      );
    }
    const result = authorizationBundleSchema.safeParse(opened.payload);
    if (!result.success || result.data.contractId !== this.#deps.contractId) {
      throw new AuthorizationStateError("STATE_TAMPERED", "The sealed authorization bundle is not one this client issued");
    }
    return result.data as AuthorizationBundle;
  }

  async #finish(bundle: AuthorizationBundle, callback: Extract<ParsedCallback, { success: true }>): Promise<CompleteAuthorizationResult> {
    const { keeper, emit } = this.#deps;
    if ((callback.postboxId === undefined) !== (callback.publicKey === undefined)) {
      const missing = callback.postboxId === undefined ? "postboxId" : "publicKey";
      throw new ValidationError("INVALID_CALLBACK", "callback", [{ path: `callback.${missing}`, message: "is required when the other postbox parameter is present" }]);
    }
    const token = await this.#exchange(callback.code, bundle.codeVerifier);
    const persisted = await keeper.storeAuthorized(bundle.userId, {
      userAccessToken: token,
      ...(callback.postboxId === undefined ? {} : { postboxId: callback.postboxId, publicKey: callback.publicKey }),
    });
    const hasPostbox = callback.postboxId !== undefined;
    emit("authorization:completed", { userId: bundle.userId, context: bundle.context, hasPostbox });
    return { userId: bundle.userId, context: bundle.context, hasPostbox, persisted };
  }

  /**
   * Exchange the code, retrying transient faults a few times here: the state
   * is already consumed, so the caller cannot simply call again.
   */
  async #exchange(code: string, codeVerifier: string): Promise<UserAccessToken> {
    const { port, now } = this.#deps;
    const describe = (error: unknown) => describeSdkFailure(error, [codeVerifier, code], now());
    let attempts = 0;
    try {
      return await withBackoff(
        (attempt) => {
          attempts = attempt;
          return port.exchangeCode({ code, codeVerifier });
        },
        {
          retries: EXCHANGE_ATTEMPTS - 1,
          minDelayMs: 200,
          shouldRetry: (error) => !(error instanceof DigimeWriteError) && decide(describe(error)) === "retry",
          waitAtLeastMs: (error) => Math.min(describe(error).retryAfterMs ?? 0, 5_000),
        },
      );
    } catch (error) {
      if (error instanceof DigimeWriteError) throw error;
      const info = describe(error);
      throw new TokenExchangeError(`Exchanging the authorization code failed after ${attempts} attempt(s); start a new authorization: ${info.message}`, false, {
        cause: new SdkCallError(info),
      });
    }
  }
}
