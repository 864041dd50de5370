/**
 * The token keeper: the one place that reads credentials for a write, takes
 * every new token the SDK produces, persists it with compare-and-set before
 * the write settles, keeps it in memory when the store fails, and refreshes
 * proactively, one refresh per user at a time.
 */
import {
  DigimeWriteError,
  NotAuthorizedError,
  ReauthorizationRequiredError,
  TokenStoreError,
} from "../errors.js";
import type { EmitEvent } from "../events.js";
import { CallDeadlines } from "../internal/call-deadlines.js";
import { sanitizeError, scrubError } from "../internal/redact.js";
import { sleep } from "../internal/sleep.js";
import { decide, describeSdkFailure, SdkCallError } from "../sdk/sdk-failure.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import type { UserAccessToken } from "../sdk/types.js";
import { expiryMs, isAtLeastAsNew, sameToken } from "./token-comparison.js";
import type { Credentials, CredentialsKey, StoredCredentials, TokenStore } from "./token-store.js";

/**
 * How a failing token store is retried: a few tries before the write settles,
 * then in the background (the newest token stays in memory meanwhile).
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, persistRetry: { inlineAttempts: 5, maxDelayMs: 10_000 } });
 * ```
 */
export interface PersistRetryOptions {
  /** Tries made before the write settles. Default 3. */
  inlineAttempts: number;
  /** First delay between tries, doubled each time. Default 50 ms. */
  minDelayMs: number;
  /** Longest delay between background tries. Default 30 s. */
  maxDelayMs: number;
}

/** Everything the keeper needs. */
export interface TokenKeeperOptions {
  store: TokenStore;
  contractId: string;
  port: SdkPort;
  emit: EmitEvent;
  now: () => number;
  /** Refresh proactively when the access token expires within this many ms. */
  refreshWindowMs: number;
  persistRetry: PersistRetryOptions;
  /** A store call that has not settled after this many ms counts as failed. */
  storeTimeoutMs: number;
}

/** What happened to a token handed to {@link TokenKeeper.accept}. */
export interface AcceptResult {
  /** The token differed from the one the call started with. */
  changed: boolean;
  /** It is in the store now (false: held in memory, retried in the background). */
  persisted: boolean;
}

/** Credentials ready for the SDK, and whether this call refreshed them. */
export interface UsableCredentials {
  credentials: Credentials;
  refreshed: boolean;
}

interface UserState {
  /** Newest credentials not yet in the store. */
  unsaved: Credentials | undefined;
  /** Last credentials seen, for use while the store cannot be read. */
  lastKnown: Credentials | undefined;
  /** Store version of what we last read or wrote; `null`: nothing stored. */
  version: number | null | undefined;
  /** Serialises persistence for this user. */
  persistChain: Promise<boolean>;
  refreshing: Promise<Credentials> | undefined;
  backgroundActive: boolean;
  failedPersists: number;
  /** Refresh token digi.me refused: writes holding it fail fast instead of making doomed SDK calls. */
  rejectedRefreshToken: string | undefined;
}

/** Just the credential fields of `basis` (it may be a stored record with version and key), with a new token. */
function withToken(basis: Credentials, userAccessToken: UserAccessToken): Credentials {
  return basis.postboxId === undefined ? { userAccessToken } : { userAccessToken, postboxId: basis.postboxId, publicKey: basis.publicKey };
}

function tokenSecrets(credentials: Credentials | undefined): string[] {
  if (credentials === undefined) return [];
  return [credentials.userAccessToken.accessToken.value, credentials.userAccessToken.refreshToken.value];
}

/** @internal Not part of the public surface; used by {@link WriteClient}. */
export class TokenKeeper {
  readonly #options: TokenKeeperOptions;
  readonly #users = new Map<string, UserState>();
  #deadlines: CallDeadlines | undefined;
  #closed = false;
  readonly #stopBackground = new AbortController();

  constructor(options: TokenKeeperOptions) {
    this.#options = options;
  }

  /** The contract whose tokens this keeper holds. */
  get contractId(): string {
    return this.#options.contractId;
  }

  #key(userId: string): CredentialsKey {
    return { userId, contractId: this.#options.contractId };
  }

  #state(userId: string): UserState {
    let state = this.#users.get(userId);
    if (state === undefined) {
      state = {
        unsaved: undefined,
        lastKnown: undefined,
        version: undefined,
        persistChain: Promise.resolve(true),
        refreshing: undefined,
        backgroundActive: false,
        failedPersists: 0,
        rejectedRefreshToken: undefined,
      };
      this.#users.set(userId, state);
    }
    return state;
  }

  /**
   * Call the store, giving up after `storeTimeoutMs`: a store that never
   * answers must not hold writes (or `close`) up forever. A call given up on
   * may still land later; compare-and-set makes that harmless, since its
   * version is stale by then or it carries the token we wanted stored anyway.
   */
  #store<T>(operation: string, call: (store: TokenStore) => Promise<T>): Promise<T> {
    // One shared timer for every pending call, not one armed and cleared per call: this runs on every write.
    this.#deadlines ??= new CallDeadlines(
      this.#options.storeTimeoutMs,
      (label) => new TokenStoreError(`Token store ${label} did not answer within ${this.#options.storeTimeoutMs} ms`),
    );
    const store = this.#options.store;
    return this.#deadlines.run(operation, () => call(store));
  }

  /** Wrap a store failure so that no foreign object, and no token, rides along. */
  #storeError(operation: string, error: unknown, state: UserState | undefined): DigimeWriteError {
    const secrets = [...tokenSecrets(state?.unsaved), ...tokenSecrets(state?.lastKnown)];
    // A store may throw one of our classes itself, with a database error (rows and all) as its cause.
    if (error instanceof DigimeWriteError) return scrubError(error, secrets);
    const cause = sanitizeError(error, secrets);
    return new TokenStoreError(`Token store ${operation} failed: ${cause.message}`, { cause });
  }

  /**
   * Credentials to use now: the unsaved newest token if there is one, else the
   * store's. Falls back to the last known credentials when the store fails.
   */
  async current(userId: string): Promise<Credentials> {
    const state = this.#users.get(userId);
    if (state?.unsaved !== undefined) return state.unsaved;
    let record: StoredCredentials | undefined;
    try {
      record = await this.#store("get", (store) => store.get(this.#key(userId)));
    } catch (error) {
      if (state?.lastKnown !== undefined) return state.lastKnown;
      throw this.#storeError("get", error, state);
    }
    // A concurrent accept may have produced a newer token while we read.
    const latest = this.#users.get(userId);
    if (latest?.unsaved !== undefined) return latest.unsaved;
    if (record === undefined) throw new NotAuthorizedError(userId);
    const fresh = this.#state(userId);
    fresh.version = record.version;
    fresh.lastKnown = record;
    return record;
  }

  /**
   * Credentials that are safe to hand to the SDK: the refresh token is still
   * valid, and, when the SDK can refresh, the access token is not about to
   * expire (refreshing first, once per user however many writes ask).
   */
  async ensureUsable(userId: string): Promise<UsableCredentials> {
    const credentials = await this.current(userId);
    const now = this.#options.now();
    const token = credentials.userAccessToken;
    if (this.#users.get(userId)?.rejectedRefreshToken === token.refreshToken.value) {
      throw new ReauthorizationRequiredError(userId, "digi.me already rejected this user's refresh token");
    }
    if (expiryMs(token.refreshToken.expiry) <= now) {
      this.#options.emit("reauthorization:required", { userId, contractId: this.#options.contractId, reason: "refresh-token-expired" });
      throw new ReauthorizationRequiredError(userId, "the refresh token has expired");
    }
    if (this.#options.port.canRefresh && expiryMs(token.accessToken.expiry) - now <= this.#options.refreshWindowMs) {
      const state = this.#state(userId);
      // Only the caller that starts the refresh reports it; the others share its result.
      const refreshed = state.refreshing === undefined;
      return { credentials: await this.#refreshOnce(userId, credentials), refreshed };
    }
    return { credentials, refreshed: false };
  }

  #refreshOnce(userId: string, basis: Credentials): Promise<Credentials> {
    const state = this.#state(userId);
    if (state.refreshing !== undefined) return state.refreshing;
    const run = async (): Promise<Credentials> => {
      let token: UserAccessToken;
      try {
        token = await this.#options.port.refresh(basis.userAccessToken);
      } catch (error) {
        if (error instanceof DigimeWriteError) throw error;
        const info = describeSdkFailure(error, tokenSecrets(basis), this.#options.now());
        const cause = new SdkCallError(info);
        if (decide(info) === "invalid-token") {
          this.markRejected(userId, basis.userAccessToken);
          throw new ReauthorizationRequiredError(userId, "digi.me rejected the refresh token", { cause });
        }
        throw cause;
      }
      await this.accept(userId, basis, token, "proactive");
      return withToken(basis, token);
    };
    state.refreshing = run().finally(() => {
      state.refreshing = undefined;
    });
    return state.refreshing;
  }

  /**
   * Remember that digi.me refused `token`'s refresh token, and tell the app
   * once. Later writes holding the same token fail without an SDK call; a new
   * authorization (or a newer token in the store) clears it.
   */
  markRejected(userId: string, token: UserAccessToken): void {
    const state = this.#state(userId);
    if (state.rejectedRefreshToken === token.refreshToken.value) return;
    state.rejectedRefreshToken = token.refreshToken.value;
    this.#options.emit("reauthorization:required", { userId, contractId: this.#options.contractId, reason: "refresh-rejected" });
  }

  /**
   * Take a token the SDK returned or announced for a call made with `basis`.
   * Unchanged tokens cost nothing; a new one is persisted (compare-and-set)
   * before this resolves, or kept in memory and retried in the background.
   */
  async accept(userId: string, basis: Credentials, token: UserAccessToken, source: "write" | "proactive"): Promise<AcceptResult> {
    if (sameToken(token, basis.userAccessToken)) return { changed: false, persisted: true };
    const state = this.#state(userId);
    const next = withToken(basis, token);
    state.unsaved = next;
    state.lastKnown = next;
    const persisted = await this.#enqueuePersist(userId, state);
    this.#options.emit("token:refreshed", {
      userId,
      contractId: this.#options.contractId,
      source,
      persisted,
      accessTokenExpiresAt: expiryMs(token.accessToken.expiry),
    });
    return { changed: true, persisted };
  }

  /** Store credentials obtained by a completed authorization, replacing any earlier ones. */
  async storeAuthorized(userId: string, credentials: Credentials): Promise<boolean> {
    const state = this.#state(userId);
    state.unsaved = credentials;
    state.lastKnown = credentials;
    // Authorization is a fresh start: whatever is stored is replaced, not compared.
    state.version = undefined;
    return this.#enqueuePersist(userId, state, { replace: true });
  }

  /**
   * The newest token this user holds under any contract in the store, so a
   * new authorization links to the same digi.me library.
   */
  async linkableToken(userId: string): Promise<UserAccessToken | undefined> {
    const own = this.#users.get(userId)?.unsaved;
    if (own !== undefined) return own.userAccessToken;
    let records: StoredCredentials[];
    try {
      records = await this.#store("listByUser", (store) => store.listByUser(userId));
    } catch (error) {
      throw this.#storeError("listByUser", error, undefined);
    }
    const now = this.#options.now();
    const usable = records.filter((r) => expiryMs(r.userAccessToken.refreshToken.expiry) > now);
    usable.sort((a, b) => (a.contractId === this.#options.contractId ? -1 : 0) - (b.contractId === this.#options.contractId ? -1 : 0) || b.updatedAt - a.updatedAt);
    return usable[0]?.userAccessToken;
  }

  #enqueuePersist(userId: string, state: UserState, mode: { replace?: boolean } = {}): Promise<boolean> {
    const run = state.persistChain.then(() => this.#persistInline(userId, state, mode.replace === true));
    state.persistChain = run.catch(() => false);
    return run;
  }

  /** Persist `state.unsaved` with a few quick tries; past them, hand over to the background loop. */
  async #persistInline(userId: string, state: UserState, replace: boolean): Promise<boolean> {
    const { inlineAttempts, minDelayMs } = this.#options.persistRetry;
    for (let attempt = 1; ; attempt += 1) {
      if (state.unsaved === undefined) return true;
      try {
        await this.#persistOnce(userId, state, replace);
        state.failedPersists = 0;
        return true;
      } catch (error) {
        state.failedPersists += 1;
        const wrapped = this.#storeError("set", error, state);
        const giveUp = attempt >= inlineAttempts;
        if (giveUp) {
          this.#options.emit("token:persist-failed", {
            userId,
            contractId: this.#options.contractId,
            attempts: state.failedPersists,
            willRetry: !this.#closed,
            error: wrapped,
          });
          this.#startBackground(userId, state, replace);
          return false;
        }
        await sleep(minDelayMs * 2 ** (attempt - 1));
      }
    }
  }

  /** One compare-and-set round, resolving conflicts by keeping the newest token. */
  async #persistOnce(userId: string, state: UserState, replace: boolean): Promise<void> {
    const key = this.#key(userId);
    // Conflicts are resolved by reading; bounded so a store that always conflicts cannot spin forever.
    for (let round = 0; round < 16; round += 1) {
      const desired = state.unsaved;
      if (desired === undefined) return;
      if (state.version === undefined) state.version = (await this.#store("get", (store) => store.get(key)))?.version ?? null;
      const expectedVersion = state.version;
      const result = await this.#store("set", (store) => store.set(key, desired, { expectedVersion }));
      if (result.status === "stored") {
        state.version = result.record.version;
        if (state.unsaved === desired) state.unsaved = undefined;
        return;
      }
      const current = result.current;
      state.version = current?.version ?? null;
      if (current !== undefined && !replace) {
        if (sameToken(current.userAccessToken, desired.userAccessToken) || !isAtLeastAsNew(desired.userAccessToken, current.userAccessToken)) {
          // The store already holds this token or a newer one (another process refreshed): adopt it.
          if (state.unsaved === desired) state.unsaved = undefined;
          state.lastKnown = current;
          return;
        }
      }
    }
    throw new TokenStoreError("Token store kept reporting conflicts for 16 rounds");
  }

  #startBackground(userId: string, state: UserState, replace: boolean): void {
    if (state.backgroundActive || this.#closed) return;
    state.backgroundActive = true;
    const { minDelayMs, maxDelayMs } = this.#options.persistRetry;
    const signal = this.#stopBackground.signal;
    const loop = async (): Promise<void> => {
      for (let attempt = 0; state.unsaved !== undefined && !signal.aborted; attempt += 1) {
        try {
          await sleep(Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt + 2, 20)), signal);
        } catch {
          return;
        }
        const ok = await this.#enqueuePersistQuiet(userId, state, replace);
        if (ok) return;
      }
    };
    void loop().finally(() => {
      state.backgroundActive = false;
    });
  }

  /** A background try: same chain as inline tries, one attempt, no event per failure. */
  #enqueuePersistQuiet(userId: string, state: UserState, replace: boolean): Promise<boolean> {
    const run = state.persistChain.then(async () => {
      if (state.unsaved === undefined) return true;
      try {
        await this.#persistOnce(userId, state, replace);
        state.failedPersists = 0;
        return true;
      } catch {
        state.failedPersists += 1;
        return false;
      }
    });
    state.persistChain = run.catch(() => false);
    return run;
  }

  /** Users whose newest token is only in memory. */
  unsavedUsers(): string[] {
    return [...this.#users].filter(([, state]) => state.unsaved !== undefined).map(([userId]) => userId);
  }

  /**
   * Try once more to persist every unsaved token, then stop background
   * retries. Resolves with the users whose newest token could not be stored.
   */
  async close(): Promise<string[]> {
    this.#closed = true;
    this.#stopBackground.abort();
    const failed: string[] = [];
    for (const [userId, state] of this.#users) {
      await state.persistChain;
      if (state.unsaved === undefined) continue;
      const ok = await this.#persistInline(userId, state, false);
      if (!ok) failed.push(userId);
    }
    this.#deadlines?.stopWhenIdle();
    return failed;
  }
}
