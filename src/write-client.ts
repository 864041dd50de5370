/**
 * {@link WriteClient}: thin wiring of the SDK port, the authorizer, the token
 * keeper and the writer behind one object that emits typed events.
 * @module
 */
import { EventEmitter } from "eventemitter3";
import { Authorizer, type BeginAuthorizationInput, type BeginAuthorizationResult, type CompleteAuthorizationOptions, type CompleteAuthorizationResult } from "./authorization/authorizer.js";
import type { CallbackInput } from "./authorization/callback.js";
import { MemoryPendingAuthorizationStore } from "./stores/memory/memory-pending-store.js";
import { createSealer } from "./authorization/seal.js";
import { pemSecrets, scrubError } from "./internal/redact.js";
import { SeenSecrets, seeingPort, seeingStore } from "./internal/seen-secrets.js";
import { resolveOptions, type ResolvedOptions, type WriteClientOptions } from "./client-options.js";
import type { EmitEvent, SdkLimitationEvent, WriteClientEvents, WriteReceipt } from "./events.js";
import { parseOrThrow } from "./internal/zod-issues.js";
import { createSdkPort, type SdkPort, type SdkPortConfig } from "./sdk/sdk-port.js";
import { createTokenEndpoint } from "./sdk/wire/token-endpoint.js";
import type { SdkGeneration } from "./sdk/types.js";
import { MemoryTokenStore } from "./stores/memory/memory-token-store.js";
import { TokenKeeper } from "./tokens/token-keeper.js";
import { expiryMs } from "./tokens/token-comparison.js";
import { ClientClosedError, ValidationError } from "./errors.js";
import type { RefreshExpiringReport } from "./tokens/token-upkeep.js";
import type { WriteFileMeta } from "./writing/file-meta.js";
import { Writer, type WriteGate, type WriteOptions } from "./writing/writer.js";
import { userIdSchema } from "./internal/ids.js";
import { LaneScheduler, queueForRefresh } from "./scheduling/lane-scheduler.js";
import { z } from "zod";

/**
 * Options of {@link WriteClient.close}.
 *
 * @example
 * ```ts
 * await client.close({ drain: false }); // stop now: queued writes reject with CLIENT_CLOSED
 * ```
 */
export interface CloseOptions {
  /**
   * `true` (default): deliver everything queued, then close. `false`: reject
   * writes that have not started with `CLIENT_CLOSED`, let running ones finish.
   * @defaultValue `true`
   */
  drain?: boolean;
}

/**
 * Result of {@link WriteClient.close}.
 *
 * @example
 * ```ts
 * const { unsavedTokens }: CloseResult = await client.close();
 * if (unsavedTokens.length > 0) log.error({ unsavedTokens }, "these users must authorize again");
 * ```
 */
export interface CloseResult {
  /** Users whose newest token could not be written to the store before closing (it was lost with the process). */
  unsavedTokens: string[];
}

/**
 * What the client knows about a user's stored authorization.
 *
 * @example
 * ```ts
 * const status: AuthorizationStatus = await client.authorizationStatus("alice");
 * if (status.status !== "authorized") showConnectButton();
 * ```
 */
export type AuthorizationStatus =
  | {
      /** Writes can proceed. */
      readonly status: "authorized";
      /** When the stored access token expires, epoch ms (the client refreshes it as needed). */
      readonly accessTokenExpiresAt: number;
      /** When the stored refresh token expires, epoch ms: the user must consent again after it. */
      readonly refreshTokenExpiresAt: number;
      /** Whether a postbox is stored (generation A write contracts). */
      readonly hasPostbox: boolean;
    }
  | {
      /** The refresh token has expired: only a new consent helps. */
      readonly status: "reauthorization-required";
      /** When the refresh token expired, epoch ms. */
      readonly refreshTokenExpiresAt: number;
    }
  | {
      /** Nothing is stored for the user under this contract. */
      readonly status: "not-authorized";
    };

/** The library's own refresher over digi.me's token endpoint, when `digimeApi` is set. */
function refresherOf(resolved: ResolvedOptions): SdkPortConfig["refresher"] {
  if (resolved.digimeApi === undefined) return undefined;
  const endpoint = createTokenEndpoint({ ...resolved.digimeApi, now: resolved.now });
  return (contractDetails, token) => endpoint.refresh(contractDetails, token);
}

/** What an SDK without a refresh of its own risks, said once per client. */
function limitationOf(generation: "A" | "B"): SdkLimitationEvent {
  if (generation === "B") {
    return {
      generation,
      limitation: "refresh-invisible",
      message:
        "This SDK (generation B, 9.x–10.x) refreshes tokens inside write() and does not return them: refreshed tokens cannot be persisted, and the stored refresh token goes stale. Pass the digimeApi option (your applicationId) so the client refreshes first, or upgrade to SDK 13+.",
    };
  }
  return {
    generation,
    limitation: "refresh-lost-on-failed-push",
    message:
      "This SDK (generation A, 5.x–8.x) refreshes tokens inside write(); when the push after such a refresh fails, the new token pair is lost with the error and the user must authorize again. Pass the digimeApi option (your applicationId) so the client refreshes first, or upgrade to SDK 13+.",
  };
}

const closeSchema = z.object({ drain: z.boolean().optional() }).optional();

/**
 * Options of {@link WriteClient.refreshExpiring}.
 *
 * @example
 * ```ts
 * const options: RefreshExpiringOptions = { withinMs: 7 * 86_400_000, concurrency: 4 };
 * ```
 */
export interface RefreshExpiringOptions {
  /** Refresh tokens whose refresh token expires within this many ms from now (0 to 366 days). */
  withinMs: number;
  /**
   * Refreshes run at once (1 to 64).
   * @defaultValue 4
   */
  concurrency?: number;
}

const refreshExpiringSchema = z
  .object({
    withinMs: z.number().int().min(0).max(366 * 86_400_000),
    concurrency: z.number().int().min(1).max(64).optional(),
  })
  .strict();

/**
 * The writer's path of each client, for the durable worker in this package:
 * `client.write` with a gate before the first attempt (the fleet's pause), on
 * the client's own scheduler. Not exported from any entry point.
 */
const gatedWrites = new WeakMap<WriteClient, (userId: string, fileMeta: WriteFileMeta, options: WriteOptions | undefined, gate: WriteGate) => Promise<WriteReceipt>>();

/**
 * Write through `client` as `client.write` does, in the same scheduler and
 * bounds, asking `gate` once the write's turn has come. A stand-in without
 * the writer (a test double) gets a plain `write` after the gate.
 */
export function writeGated(client: WriteClient, userId: string, fileMeta: WriteFileMeta, options: WriteOptions | undefined, gate: WriteGate): Promise<WriteReceipt> {
  const gated = gatedWrites.get(client);
  if (gated !== undefined) return gated(userId, fileMeta, options, gate);
  return Promise.resolve(gate()).then(() => client.write(userId, fileMeta, options));
}

/**
 * Writes files into users' digi.me libraries: runs the authorization flow,
 * keeps every user's token fresh and stored, and delivers files through a
 * queued, retrying pipeline that reports everything as typed events.
 *
 * @example
 * ```ts
 * const client = new WriteClient({
 *   sdk: sandbox.sdk("v16"),
 *   contractDetails: sandbox.contractDetails,
 *   redirectUri: "https://app.example/digime/callback",
 *   tokenStore: new MemoryTokenStore(),
 *   stateSecret: process.env.DIGIME_STATE_SECRET,
 * });
 * client.on("token:refreshed", ({ userId }) => log.info({ userId }, "token rotated"));
 * const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
 * // …redirect to url; on the callback:
 * await client.completeAuthorization(callbackUrl, { sealed });
 * const receipt = await client.write("alice", { fileData, fileName, fileDescriptor });
 * await client.close();
 * ```
 */
export class WriteClient extends EventEmitter<WriteClientEvents> {
  readonly #contractId: string;
  readonly #port: SdkPort;
  readonly #keeper: TokenKeeper;
  readonly #authorizer: Authorizer;
  readonly #writer: Writer;
  readonly #scheduler: LaneScheduler;
  readonly #now: () => number;
  #closing: Promise<CloseResult> | undefined;
  /** Whether the next authorization should say (once) that it can complete only on this instance. */
  #authorizationNotShared: boolean;
  /** Stops the queue gauges (telemetry), once closed. */
  readonly #stopObserving: () => void;
  /**
   * What no error leaving the client may show: the contract key (whole, body,
   * lines), the state secrets, and every token value this client has seen.
   */
  readonly #seen: SeenSecrets;

  /**
   * @throws ValidationError with code `INVALID_OPTIONS` naming each bad field.
   */
  constructor(options: WriteClientOptions) {
    super();
    const resolved = resolveOptions(options);
    this.#contractId = resolved.contractDetails.contractId;
    this.#now = resolved.now;
    this.#seen = new SeenSecrets([...pemSecrets(resolved.contractDetails.privateKey), ...resolved.stateSecrets]);
    const emit: EmitEvent = (name, ...args) => this.#safeEmit(name, args);

    // Every token in or out of the SDK and the store is remembered on the way, so errors can be scrubbed of it.
    this.#port = seeingPort(createSdkPort(
      resolved.sdk,
      {
        contractDetails: resolved.contractDetails,
        redirectUri: resolved.redirectUri,
        errorRedirectUri: resolved.errorRedirectUri,
        generation: resolved.sdkGeneration,
        refresher: refresherOf(resolved),
      },
      (generation) => emit("sdk:limitation", limitationOf(generation)),
    ), this.#seen);
    this.#keeper = new TokenKeeper({
      store: seeingStore(resolved.tokenStore, this.#seen),
      contractId: this.#contractId,
      port: this.#port,
      emit,
      now: resolved.now,
      refreshWindowMs: resolved.refreshWindowMs,
      persistRetry: resolved.persistRetry,
      storeTimeoutMs: resolved.storeTimeoutMs,
      coordination: resolved.refreshCoordination,
      idleUserMs: resolved.idleUserMs,
      telemetry: resolved.telemetry,
    });
    // A store that coordinates across processes, other than the in-process one, means several instances.
    this.#authorizationNotShared =
      options.stateSecret === undefined &&
      options.pendingAuthorizations === undefined &&
      this.#keeper.coordinatesAcrossProcesses &&
      !(resolved.tokenStore instanceof MemoryTokenStore);
    this.#authorizer = new Authorizer({
      port: this.#port,
      keeper: this.#keeper,
      // A secret the library drew itself is 32 random bytes: nothing to guess, so no memory-hard KDF for it.
      sealer: createSealer(resolved.stateSecrets, { derivation: options.stateSecret === undefined ? "hkdf" : "scrypt" }),
      pending: resolved.pendingAuthorizations ?? new MemoryPendingAuthorizationStore({ now: resolved.now }),
      emit,
      now: resolved.now,
      contractId: this.#contractId,
      ttlMs: resolved.authorizationTtlMs,
      requireSealed: resolved.requireSealedBundle,
      checkStateMac: options.stateSecret !== undefined,
      telemetry: resolved.telemetry,
    });
    const queue = queueForRefresh(resolved.queue, resolved.queueChosen, this.#port.canRefresh);
    const scheduler = new LaneScheduler(queue, (settled) => emit("queue:idle", { settled }));
    this.#scheduler = scheduler;
    this.#stopObserving = resolved.telemetry.observeQueue(() => ({ depth: scheduler.size - scheduler.running, inFlight: scheduler.running }));
    this.#writer = new Writer({
      scheduler,
      keeper: this.#keeper,
      port: this.#port,
      emit,
      now: resolved.now,
      retry: resolved.retry,
      telemetry: resolved.telemetry,
      contractId: this.#contractId,
      listening: (name) => this.listenerCount(name) > 0,
      scrub: (error) => scrubError(error, this.#seen.list),
      noteToken: (token) => this.#seen.addToken(token),
    });
    gatedWrites.set(this, (userId, fileMeta, options, gate) => this.#write(userId, fileMeta, options, gate));
  }

  /** A listener that throws must not break the pipeline; its error surfaces on its own tick. */
  #safeEmit<K extends keyof WriteClientEvents>(name: K, args: WriteClientEvents[K]): void {
    const payload = args[0] as { error?: unknown } | undefined;
    if (payload?.error !== undefined) scrubError(payload.error, this.#seen.list);
    try {
      (this.emit as (event: K, ...rest: WriteClientEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Every rejection leaves through here: scrubbed whoever made the error (a user's store can make ours). */
  #scrubbed<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((error: unknown) => {
      throw scrubError(error, this.#seen.list);
    });
  }

  /** The contract this client writes with. */
  get contractId(): string {
    return this.#contractId;
  }

  /** The SDK generation in use; `undefined` until a `write`-style SDK has answered once. */
  get sdkGeneration(): SdkGeneration | undefined {
    return this.#port.generation;
  }

  /**
   * Writes this client delivers at once, across users (`queue.concurrency`).
   *
   * @example
   * ```ts
   * const pool = new Pool({ max: client.concurrency }); // one connection per write in flight
   * ```
   */
  get concurrency(): number {
    return this.#scheduler.concurrency;
  }

  /** Writes accepted and not yet settled. */
  get queued(): number {
    return this.#scheduler.size;
  }

  /**
   * Users whose state (a cached token and its version) this client holds in
   * memory: those written to lately. A user's state is released after
   * `idleUserMs` without a write, so this follows active users, not every
   * user ever written to.
   *
   * @example
   * ```ts
   * metrics.gauge("digime.users_in_memory", client.usersInMemory);
   * ```
   */
  get usersInMemory(): number {
    return this.#keeper.trackedUsers;
  }

  /**
   * Start authorizing a user: returns the digi.me URL to redirect to and the
   * sealed bundle. If the user already has a token (this contract or another
   * in the same store), it is passed on so digi.me links the same library.
   *
   * @example
   * ```ts
   * const { url, sealed } = await client.beginAuthorization({ userId: req.user.id });
   * res.cookie("digime_auth", sealed, { httpOnly: true, secure: true, sameSite: "lax" }).redirect(url);
   * ```
   * @throws ValidationError (`INVALID_ARGUMENT`) for bad input; AuthorizationStartError when the SDK or the
   *   pending authorization store fails; TokenStoreError when the token store cannot be read.
   */
  beginAuthorization(input: BeginAuthorizationInput): Promise<BeginAuthorizationResult> {
    if (this.#authorizationNotShared) {
      this.#authorizationNotShared = false;
      this.#safeEmit("config:warning", [
        {
          warning: "authorization-not-shared",
          message:
            "The token store is shared by several processes, but without a stateSecret and a shared pendingAuthorizations store an authorization begun on this instance cannot complete on another: give every instance the same stateSecret, or a Redis/PostgreSQL pending authorization store.",
        },
      ]);
    }
    return this.#scrubbed(this.#authorizer.begin(input));
  }

  /**
   * Finish an authorization from digi.me's callback: checks the state against
   * the sealed bundle (required by default; the pending store only with
   * `allowPendingStore` and `expectedUserId`), refuses expired, replayed or
   * tampered bundles and bundles of another user than `expectedUserId`, then
   * exchanges the code and stores the token. A denial (`success=false`, with
   * or without `state`) rejects with `AuthorizationDeniedError`.
   *
   * @example
   * ```ts
   * app.get("/digime/callback", async (req, res) => {
   *   const { userId } = await client.completeAuthorization(req.query, {
   *     sealed: req.cookies.digime_auth,
   *     expectedUserId: req.session.userId,
   *   });
   *   res.redirect(`/users/${userId}`);
   * });
   * ```
   * @throws AuthorizationDeniedError, AuthorizationStateError, AuthorizationUserMismatchError,
   *   ValidationError (`INVALID_CALLBACK`), TokenExchangeError.
   */
  completeAuthorization(callback: CallbackInput, options?: CompleteAuthorizationOptions): Promise<CompleteAuthorizationResult> {
    return this.#scrubbed(this.#authorizer.complete(callback, options));
  }

  /**
   * Queue a file for the user's library. Resolves with a receipt once digi.me
   * accepted it and any refreshed token is stored; rejects with a typed error.
   *
   * @example
   * ```ts
   * const receipt = await client.write("alice", {
   *   fileData: Buffer.from(JSON.stringify(order)),
   *   fileName: "order-1.json",
   *   fileDescriptor: { mimeType: "application/json", accounts: [{ accountId: "shop" }] },
   * });
   * console.log(receipt.status, receipt.attempts);
   * ```
   * @throws ValidationError (`INVALID_ARGUMENT`), QueueFullError, ClientClosedError, WriteAbortedError,
   *   NotAuthorizedError, ReauthorizationRequiredError, DeliveryError.
   */
  write(userId: string, fileMeta: WriteFileMeta, options?: WriteOptions): Promise<WriteReceipt> {
    return this.#write(userId, fileMeta, options, undefined);
  }

  /** `write`, and the durable worker's gated write: refused once closing, else the writer's. */
  #write(userId: string, fileMeta: WriteFileMeta, options: WriteOptions | undefined, gate: WriteGate | undefined): Promise<WriteReceipt> {
    if (this.#closing !== undefined) return Promise.reject(new ClientClosedError());
    // The writer scrubs every error it rejects with (see WriterDeps.scrub).
    return this.#writer.write(userId, fileMeta, options, gate);
  }

  /**
   * What is stored for a user: whether writes can proceed or a new
   * authorization is needed.
   *
   * @example
   * ```ts
   * if ((await client.authorizationStatus("alice")).status !== "authorized") return res.redirect("/connect");
   * ```
   */
  authorizationStatus(userId: string): Promise<AuthorizationStatus> {
    return this.#scrubbed(this.#authorizationStatus(userId));
  }

  async #authorizationStatus(userId: string): Promise<AuthorizationStatus> {
    const id = parseOrThrow(userIdSchema, userId, "INVALID_ARGUMENT", "userId");
    let credentials;
    try {
      credentials = await this.#keeper.current(id);
    } catch (error) {
      if (error instanceof Error && (error as { code?: string }).code === "USER_NOT_AUTHORIZED") return { status: "not-authorized" };
      throw error;
    }
    const token = credentials.userAccessToken;
    const refreshTokenExpiresAt = expiryMs(token.refreshToken.expiry);
    if (refreshTokenExpiresAt <= this.#now()) return { status: "reauthorization-required", refreshTokenExpiresAt };
    return {
      status: "authorized",
      accessTokenExpiresAt: expiryMs(token.accessToken.expiry),
      refreshTokenExpiresAt,
      hasPostbox: credentials.postboxId !== undefined,
    };
  }

  /**
   * Token upkeep: refresh every stored token of this contract whose refresh
   * token expires within `withinMs`, so users who are written to rarely do
   * not have to consent again. Each token is refreshed through the same
   * refresher writes use: under the store's refresh lease when it has one,
   * so processes running upkeep at once refresh each token once. Needs a
   * store with `listExpiring` (all four stores of this library) and an SDK
   * that can refresh (`refreshToken`, or the `digimeApi` option). Run it
   * more often than the refresh tokens' lifetime minus `withinMs`; the
   * BullMQ `WriteWorker` can schedule it (`tokenUpkeep`).
   *
   * @example
   * ```ts
   * const report = await client.refreshExpiring({ withinMs: 7 * 86_400_000 });
   * log.info({ refreshed: report.refreshed.length, expired: report.expired }, "token upkeep");
   * ```
   * @throws ValidationError (`INVALID_ARGUMENT`) for bad options, (`INVALID_OPTIONS`) when the store has no
   *   `listExpiring` or the SDK cannot refresh; TokenStoreError when the store cannot be listed.
   */
  refreshExpiring(options: RefreshExpiringOptions): Promise<RefreshExpiringReport> {
    let parsed: z.output<typeof refreshExpiringSchema>;
    try {
      parsed = parseOrThrow(refreshExpiringSchema, options, "INVALID_ARGUMENT", "options");
      if (!this.#keeper.canListExpiring) {
        throw new ValidationError("INVALID_OPTIONS", "tokenStore", [{ path: "options.tokenStore", message: "has no listExpiring method, which refreshExpiring needs (ExpiringTokens)" }]);
      }
      if (!this.#port.canRefresh) {
        throw new ValidationError("INVALID_OPTIONS", "sdk", [{ path: "options.sdk", message: "cannot refresh tokens (no refreshToken): pass the digimeApi option to use refreshExpiring" }]);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closing !== undefined) return Promise.reject(new ClientClosedError());
    return this.#scrubbed(this.#keeper.refreshExpiring(parsed.withinMs, parsed.concurrency ?? 4));
  }

  /**
   * Resolves when nothing is queued or running.
   *
   * @example
   * ```ts
   * files.forEach((f) => void client.write("alice", f).catch(report));
   * await client.onIdle();
   * ```
   */
  onIdle(): Promise<void> {
    return this.#scheduler.onIdle();
  }

  /**
   * Stop accepting writes and shut down. By default every queued write is
   * delivered first; tokens still unsaved get one last try at the store.
   * Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * process.on("SIGTERM", () => void client.close().then(() => process.exit(0)));
   * ```
   */
  close(options?: CloseOptions): Promise<CloseResult> {
    if (this.#closing !== undefined) return this.#closing;
    let drain: boolean;
    try {
      drain = parseOrThrow(closeSchema, options, "INVALID_ARGUMENT", "options")?.drain ?? true;
    } catch (error) {
      return Promise.reject(error);
    }
    this.#scheduler.close(!drain);
    this.#closing = (async () => {
      await this.#scheduler.onIdle();
      this.#stopObserving();
      return { unsavedTokens: await this.#keeper.close() };
    })();
    return this.#closing;
  }

  /** Shows state, never credentials. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `WriteClient { contractId: ${JSON.stringify(this.#contractId)}, sdkGeneration: ${this.#port.generation ?? "unknown"}, queued: ${this.#scheduler.size}, usersInMemory: ${this.#keeper.trackedUsers}, closed: ${this.#closing !== undefined} }`;
  }
}
