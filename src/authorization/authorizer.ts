/**
 * Begin and complete the authorization redirect flow. Every check on the way
 * back is explicit and happens before the code is exchanged: callback shape,
 * bundle integrity, state equality (constant time), expiry, one-time use.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  AuthorizationDeniedError,
  AuthorizationStartError,
  AuthorizationStateError,
  DigimeWriteError,
  TokenExchangeError,
  ValidationError,
} from "../errors.js";
import type { EmitEvent } from "../events.js";
import { sanitizeError } from "../internal/redact.js";
import { sleep } from "../internal/sleep.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import { decide, describeSdkFailure, SdkCallError } from "../sdk/sdk-failure.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import type { UserAccessToken } from "../sdk/types.js";
import type { TokenKeeper } from "../tokens/token-keeper.js";
import { userIdSchema } from "../writing/writer.js";
import { authorizationBundleSchema, type AuthorizationBundle } from "./bundle.js";
import { parseCallback, type CallbackInput, type ParsedCallback } from "./callback.js";
import type { PendingAuthorizationStore } from "./pending-store.js";
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
  /** JSON data returned on completion (at most 4 KiB serialized), e.g. where to send the user next. */
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
  /** The bundle sealed under `stateSecret`: put it in an httpOnly cookie, or ignore it and rely on the pending store. */
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
  /** The `sealed` value from `beginAuthorization`, when you kept it (in a cookie, say). */
  sealed?: string;
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

const MAX_CONTEXT_BYTES = 4096;
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
  .object({ sealed: z.string().min(1).max(MAX_SEALED_LENGTH).optional() })
  .optional();

/** Constant-time equality of two strings of any length (compares digests). */
function safeEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
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
}

/** @internal */
export class Authorizer {
  readonly #deps: AuthorizerDeps;

  constructor(deps: AuthorizerDeps) {
    this.#deps = deps;
  }

  async begin(input: unknown): Promise<BeginAuthorizationResult> {
    const parsed = parseOrThrow(beginSchema, input, "INVALID_ARGUMENT", "input");
    const { port, keeper, sealer, pending, now, contractId } = this.#deps;
    const state = randomBytes(32).toString("base64url");
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
    try {
      await pending.save(bundle);
    } catch (error) {
      const cause = sanitizeError(error, [codeVerifier, state]);
      throw new AuthorizationStartError(`Saving the pending authorization failed: ${cause.message}`, true, { cause });
    }
    const sealed = await sealer.seal(bundle);
    return { url, state, sealed, expiresAt };
  }

  async complete(callbackInput: unknown, options: unknown): Promise<CompleteAuthorizationResult> {
    let userId: string | undefined;
    try {
      const { sealed } = parseOrThrow(completeOptionsSchema, options, "INVALID_ARGUMENT", "options") ?? {};
      const callback = parseCallback(callbackInput as CallbackInput);
      const bundle = await this.#resolveBundle(callback, sealed);
      userId = bundle?.userId;
      if (!callback.success) throw new AuthorizationDeniedError(callback.errorCode, userId);
      if (bundle === undefined) throw new AuthorizationStateError("STATE_UNKNOWN", "The callback's state matches no pending authorization");
      return await this.#finish(bundle, callback);
    } catch (error) {
      // A foreign error (from a custom pending store, say) is described, never passed on with whatever it references.
      const typed = error instanceof DigimeWriteError ? error : new TokenExchangeError("Authorization failed unexpectedly", false, { cause: sanitizeError(error) });
      this.#deps.emit("authorization:failed", { userId, error: typed });
      throw typed;
    }
  }

  /**
   * Find and check the bundle for this callback. For a failure callback the
   * checks are lenient (the user is told "denied" either way) but the state is
   * still consumed.
   */
  async #resolveBundle(callback: ParsedCallback, sealed: string | undefined): Promise<AuthorizationBundle | undefined> {
    const { pending, now } = this.#deps;
    const denied = !callback.success;

    if (sealed !== undefined) {
      const opened = await this.#open(sealed);
      if (callback.state === undefined || !safeEqual(callback.state, opened.state)) {
        if (denied) return opened;
        throw new AuthorizationStateError("STATE_MISMATCH", "The callback's state does not match the sealed authorization bundle");
      }
      const consumed = await pending.consume(opened.state, opened.expiresAt);
      if (denied) return opened;
      // Expiry first: the bundle carries it, so an expired bundle is reported as expired however often it comes back.
      if (opened.expiresAt <= now()) throw new AuthorizationStateError("STATE_EXPIRED", "The authorization expired before the callback arrived");
      if (consumed.status === "used") throw new AuthorizationStateError("STATE_REPLAYED", "This authorization was already used");
      if (consumed.status === "found" && !safeEqual(consumed.bundle.codeVerifier, opened.codeVerifier)) {
        throw new AuthorizationStateError("STATE_TAMPERED", "The sealed bundle differs from the pending authorization");
      }
      return opened;
    }

    if (callback.state === undefined) {
      if (denied) return undefined;
      throw new ValidationError("INVALID_CALLBACK", "callback", [{ path: "callback.state", message: "is required" }]);
    }
    const consumed = await pending.consume(callback.state, now() + this.#deps.ttlMs);
    if (consumed.status === "used") {
      if (denied) return undefined;
      throw new AuthorizationStateError("STATE_REPLAYED", "This authorization was already used");
    }
    if (consumed.status === "unknown") {
      if (denied) return undefined;
      throw new AuthorizationStateError("STATE_UNKNOWN", "The callback's state matches no pending authorization (expired, from another server, or forged)");
    }
    const bundle = consumed.bundle;
    // The store returned it by key, but compare anyway: a custom store may match loosely.
    if (!safeEqual(bundle.state, callback.state)) throw new AuthorizationStateError("STATE_MISMATCH", "The pending authorization's state does not match the callback");
    if (!denied && bundle.expiresAt <= now()) throw new AuthorizationStateError("STATE_EXPIRED", "The authorization expired before the callback arrived");
    return bundle;
  }

  async #open(sealed: string): Promise<AuthorizationBundle> {
    const opened = await this.#deps.sealer.open(sealed);
    if (!opened.ok) {
      const why = opened.reason === "unknown-key" ? "it was sealed under a secret that is no longer configured" : "it was altered or is not a sealed bundle";
      throw new AuthorizationStateError("STATE_TAMPERED", `The sealed authorization bundle cannot be opened: ${why}`);
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
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await port.exchangeCode({ code, codeVerifier });
      } catch (error) {
        if (error instanceof DigimeWriteError) throw error;
        const info = describeSdkFailure(error, [codeVerifier, code], now());
        if (decide(info) === "retry" && attempt < EXCHANGE_ATTEMPTS) {
          await sleep(Math.min(info.retryAfterMs ?? 0, 5_000) || 100 * 2 ** attempt);
          continue;
        }
        throw new TokenExchangeError(
          `Exchanging the authorization code failed after ${attempt} attempt(s); start a new authorization: ${info.message}`,
          false,
          { cause: new SdkCallError(info) },
        );
      }
    }
  }
}
