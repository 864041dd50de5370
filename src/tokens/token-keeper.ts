/**
 * The token keeper: the one place that reads credentials for a write and
 * takes every new token the SDK produces. It keeps a small state per user
 * while that user is active, and hands the work to its parts: the
 * {@link GuardedStore} (bounded store calls), the {@link TokenPersister}
 * (compare-and-set before a write settles, background tries) and the
 * {@link TokenRefresher} (one refresh at a time, across processes under the
 * store's lease).
 */
import { CallDeadlines } from "../internal/call-deadlines.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import { NotAuthorizedError, ReauthorizationRequiredError } from "../errors.js";
import type { EmitEvent } from "../events.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import type { UserAccessToken } from "../sdk/types.js";
import { tokenSecrets, withToken } from "./credentials.js";
import { GuardedStore } from "./guarded-store.js";
import type { CellOf, RecordCell } from "../stores/record-cells.js";
import { expiryMs, isAtLeastAsNew, sameToken } from "./token-comparison.js";
import { TokenPersister, type PersistRetryOptions, type PersistState } from "./token-persister.js";
import { TokenRefresher, type RefreshCoordinationOptions } from "./token-refresher.js";
import type { Credentials, CredentialsKey, StoredCredentials, TokenStore } from "../stores/token-store.js";
import { refreshExpiringTokens, type RefreshExpiringReport } from "./token-upkeep.js";

export type { PersistRetryOptions } from "./token-persister.js";
export type { RefreshCoordinationOptions } from "./token-refresher.js";

/** Everything the keeper needs. */
export interface TokenKeeperOptions {
  store: TokenStore;
  contractId: string;
  port: SdkPort;
  emit: EmitEvent;
  now: () => number;
  /** Refresh proactively when the access token expires within this many ms (capped at half the token's lifetime). */
  refreshWindowMs: number;
  persistRetry: PersistRetryOptions;
  /** A store call that has not settled after this many ms counts as failed. */
  storeTimeoutMs: number;
  coordination: RefreshCoordinationOptions;
  /** A user's in-memory state is released after this many ms without activity (and nothing pending). */
  idleUserMs: number;
  /** Spans of store calls and refreshes; refresh and persist-failure counts. Default: off. */
  telemetry?: Telemetry;
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

interface UserState extends PersistState {
  /** Refresh token digi.me refused: writes holding it fail fast instead of making doomed SDK calls. */
  rejectedRefreshToken: string | undefined;
  /** The access token last seen, and when it was first seen: the estimate of its lifetime. */
  seenAccessToken: string | undefined;
  seenAt: number;
  /** How many idle sweeps had run at the last use (see {@link TokenKeeper.#sweep}). */
  lastUsedSweep: number;
  /** The store read in flight for this user: writes share it instead of queueing reads behind a slow store. */
  reading: Promise<StoredCredentials | undefined> | undefined;
  /** The user's cell in a store held in this process's memory, as last looked up (see record-cells.ts). */
  cell: RecordCell | undefined;
  /**
   * The answer {@link TokenKeeper.ensureUsable} last gave for the record in
   * `cell`, good until `usableUntil` (when the access token falls due for a
   * refresh or the refresh token expires): while the cell holds that very
   * record, later writes reuse it without reading or checking again.
   * Cleared when a token arrives here or digi.me refuses one.
   */
  judged: UsableCredentials | undefined;
  usableUntil: number;
}

/**
 * How long a write whose cached token is valid beyond the refresh window
 * waits for the store's read before it goes ahead with the cached token. A
 * healthy store answers well within it (so a token another process stored
 * is picked up); an unreachable one costs each write this much at most,
 * instead of the store's whole timeout (issue 16: no delivery gap over
 * 1.5 s while Redis is down for 6 s).
 */
const CACHED_TOKEN_READ_WAIT_MS = 250;

/** The keeper described above; each `WriteClient` has one. */
export class TokenKeeper {
  readonly #options: TokenKeeperOptions;
  readonly #users = new Map<string, UserState>();
  readonly #store: GuardedStore;
  readonly #persister: TokenPersister;
  readonly #refresher: TokenRefresher;
  /** How long a write with a valid cached token waits for the store's read: one timer for all of them. */
  readonly #cachedReadWait = new CallDeadlines(CACHED_TOKEN_READ_WAIT_MS, () => new Error("unused: settle() never rejects"));
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  /** Idle sweeps run so far: a use notes this count instead of reading a clock. */
  #sweeps = 0;

  constructor(options: TokenKeeperOptions) {
    this.#options = options;
    const telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#store = new GuardedStore(options.store, options.storeTimeoutMs, telemetry);
    this.#persister = new TokenPersister({ store: this.#store, contractId: options.contractId, emit: options.emit, retry: options.persistRetry, telemetry });
    this.#refresher = new TokenRefresher({
      store: this.#store,
      port: options.port,
      contractId: options.contractId,
      now: options.now,
      coordination: options.coordination,
      latest: (userId) => this.#latest(userId),
      fresh: (userId, credentials) => !this.#refreshDue(this.#state(userId), credentials, this.#options.now()),
      accept: (userId, basis, token) => this.accept(userId, basis, token, "proactive"),
      rejected: (userId, token) => this.markRejected(userId, token),
      telemetry,
    });
  }

  /** The contract whose tokens this keeper holds. */
  get contractId(): string {
    return this.#options.contractId;
  }

  /** Whether the store coordinates refreshes across processes. */
  get coordinatesAcrossProcesses(): boolean {
    return this.#store.leases !== undefined;
  }

  /** Users whose state is held in memory now (active ones, and idle ones not yet released). */
  get trackedUsers(): number {
    return this.#users.size;
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
        persisting: 0,
        backgroundActive: false,
        failedPersists: 0,
        rejectedRefreshToken: undefined,
        seenAccessToken: undefined,
        seenAt: 0,
        lastUsedSweep: 0,
        reading: undefined,
        cell: undefined,
        judged: undefined,
        usableUntil: 0,
      };
      this.#users.set(userId, state);
      this.#sweepTimer ??= this.#startSweeping();
    }
    state.lastUsedSweep = this.#sweeps;
    return state;
  }

  /**
   * Release the state of users idle for `idleUserMs` with nothing pending,
   * so memory follows active users, not every user ever written to. What is
   * lost is only a cache: the next write reads the store again.
   */
  #startSweeping(): ReturnType<typeof setInterval> {
    const every = Math.max(10, Math.floor(this.#options.idleUserMs / 2));
    const timer = setInterval(() => this.#sweep(), every);
    timer.unref();
    return timer;
  }

  /**
   * Sweeps run every `idleUserMs / 2`. A user last used after sweep n has been
   * idle for more than `idleUserMs` (two whole intervals) by sweep n + 3, and
   * for at most 1.5 × `idleUserMs`: what comparing timestamps would give,
   * without a clock read on every write.
   */
  #sweep(): void {
    this.#sweeps += 1;
    const usedBefore = this.#sweeps - 3;
    for (const [userId, state] of this.#users) {
      if (state.lastUsedSweep <= usedBefore && state.unsaved === undefined && state.persisting === 0 && !state.backgroundActive) this.#users.delete(userId);
    }
    if (this.#users.size === 0) this.#stopSweeping();
  }

  #stopSweeping(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /** This process's unsaved token, else the store's, read afresh; `undefined` when none is stored. */
  async #latest(userId: string): Promise<Credentials | undefined> {
    const own = this.#users.get(userId)?.unsaved;
    if (own !== undefined) return own;
    const record = await this.#store.get(this.#key(userId));
    const unsaved = this.#users.get(userId)?.unsaved;
    if (unsaved !== undefined) return unsaved;
    return record === undefined ? undefined : this.#remember(userId, record);
  }

  /**
   * Keep what a store read returned, unless this process has seen a newer
   * token since the read began (a slow read overtaken by a refresh here):
   * then that newer one is the truth, and handing out the read one would
   * spend a refresh token already spent.
   */
  #remember(userId: string, record: StoredCredentials): Credentials {
    const state = this.#state(userId);
    const known = state.lastKnown;
    // The very record read last time (a store in memory hands out its record, replaced on set, never changed): nothing to compare.
    if (known === record) return record;
    if (known !== undefined && !sameToken(known.userAccessToken, record.userAccessToken) && !isAtLeastAsNew(record.userAccessToken, known.userAccessToken)) return known;
    state.version = record.version;
    state.lastKnown = record;
    return record;
  }

  /**
   * Credentials to use now: the unsaved newest token if there is one, else the
   * store's. Falls back to the last known credentials when the store fails,
   * and does not wait long for a store read when the last known token is
   * valid beyond the refresh window (see {@link CACHED_TOKEN_READ_WAIT_MS}).
   * Plain reactions rather than async functions: this runs on every write.
   */
  current(userId: string): Promise<Credentials> {
    const state = this.#users.get(userId);
    if (state?.unsaved !== undefined) return Promise.resolve(state.unsaved);
    const cellOf = this.#store.cellOf;
    if (cellOf !== undefined) {
      try {
        return Promise.resolve(this.#readAtOnce(userId, state, cellOf));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const cached = state?.lastKnown;
    if (state !== undefined && cached !== undefined && this.#cacheUsable(state, cached)) return this.#cachedRead(userId, state, cached, false) as Promise<Credentials>;
    const read = this.#readShared(userId);
    return this.#boundRead(state, read).then(
      (record) => this.#afterRead(userId, record),
      (error: unknown) => {
        if (state?.lastKnown !== undefined) return state.lastKnown;
        throw this.#store.error("get", error, [...tokenSecrets(state?.unsaved), ...tokenSecrets(state?.lastKnown)]);
      },
    );
  }

  /**
   * {@link current} for a store whose records are in this process's memory:
   * read now, with nothing to wait for or bound. The same rules as a read
   * that waits: this process's unsaved token wins, a newer token seen here
   * is not replaced by an older stored one, and a failing read falls back to
   * the last known credentials.
   */
  #readAtOnce(userId: string, state: UserState | undefined, cellOf: CellOf): Credentials {
    if (state?.unsaved !== undefined) return state.unsaved;
    let cell: RecordCell | undefined;
    try {
      cell = cellOf(userId, this.#options.contractId);
    } catch (error) {
      if (state?.lastKnown !== undefined) return state.lastKnown;
      // Nothing of this user's is held here (no unsaved or known token) for the error to quote.
      throw this.#store.error("get", error, []);
    }
    const credentials = this.#afterRead(userId, cell?.record);
    // Held (the read created the state if it was missing): the next write reads the cell directly.
    this.#users.get(userId)!.cell = cell;
    return credentials;
  }

  /**
   * The credentials to use for a user whose cached token is usable (checked
   * by {@link ensureUsable} when `usable`): the store's, read within
   * {@link CACHED_TOKEN_READ_WAIT_MS}, else the cached ones. One reaction for
   * the wait and the checks together: this runs on every write.
   */
  #cachedRead(userId: string, state: UserState, cached: Credentials, usable: boolean): Promise<Credentials | UsableCredentials> {
    const read = this.#readShared(userId);
    return this.#cachedReadWait.settle(read, (outcome) => {
      const credentials = this.#afterCachedRead(userId, state, cached, read, outcome);
      return usable ? this.#usable(userId, credentials) : credentials;
    });
  }

  /** What the store read gave, for a user whose cached token was usable (see {@link current}). */
  #afterCachedRead(
    userId: string,
    state: UserState,
    cached: Credentials,
    read: Promise<StoredCredentials | undefined>,
    outcome: PromiseSettledResult<StoredCredentials | undefined> | undefined,
  ): Credentials {
    if (outcome === undefined) {
      // The store is slow or down: the cached token is valid, so the write goes on. The read, if it lands
      // within the store's deadline, updates the cache; either way it stops being shared then.
      void this.#boundRead(state, read).then(
        (late) => this.#rememberLate(userId, late),
        () => undefined,
      );
    } else {
      this.#readDone(state, read);
      if (outcome.status === "fulfilled") return this.#afterRead(userId, outcome.value);
    }
    return this.#users.get(userId)?.unsaved ?? state.lastKnown ?? cached;
  }

  /** The record a store read returned, unless this process produced a newer token meanwhile. */
  #afterRead(userId: string, record: StoredCredentials | undefined): Credentials {
    // A concurrent accept may have produced a newer token while we read.
    const latest = this.#users.get(userId);
    if (latest?.unsaved !== undefined) return latest.unsaved;
    if (record === undefined) throw new NotAuthorizedError(userId);
    return this.#remember(userId, record);
  }

  /**
   * One store read per user at a time: while the store is slow, writes share
   * the read in flight. The read has no deadline of its own: each caller
   * bounds its wait (the cached path by {@link CACHED_TOKEN_READ_WAIT_MS}, the
   * rest by the store's), and whoever sees it settle, or gives up on it at
   * the store's deadline, stops sharing it ({@link #readDone}). Every caller
   * attaches its handlers at once, so a rejection is never unhandled.
   */
  #readShared(userId: string): Promise<StoredCredentials | undefined> {
    const state = this.#users.get(userId);
    if (state?.reading !== undefined) return state.reading;
    const read = this.#store.getUnbounded(this.#key(userId));
    if (state !== undefined) state.reading = read;
    return read;
  }

  #readDone(state: UserState | undefined, read: Promise<StoredCredentials | undefined>): void {
    if (state !== undefined && state.reading === read) state.reading = undefined;
  }

  /** `read` under the store's deadline from now; once that settles, the read is no longer shared. */
  #boundRead(state: UserState | undefined, read: Promise<StoredCredentials | undefined>): Promise<StoredCredentials | undefined> {
    const bounded = this.#store.bound("get", read);
    const done = (): void => this.#readDone(state, read);
    bounded.then(done, done);
    return bounded;
  }

  #rememberLate(userId: string, record: StoredCredentials | undefined): void {
    if (record !== undefined && this.#users.get(userId)?.unsaved === undefined) this.#remember(userId, record);
  }

  /** Whether `cached` can be used without the store: not refused, refresh token alive, access token valid beyond the refresh window. */
  #cacheUsable(state: UserState, cached: Credentials): boolean {
    const token = cached.userAccessToken;
    if (state.rejectedRefreshToken === token.refreshToken.value) return false;
    // One reading of the clock for both checks: this runs on every write.
    const now = this.#options.now();
    if (expiryMs(token.refreshToken.expiry) <= now) return false;
    return !this.#refreshDue(state, cached, now);
  }

  /**
   * Whether `token` is due for a proactive refresh: its access token expires
   * within the refresh window, capped at half the token's lifetime (as far as
   * this process has seen it) so a window longer than the lifetime cannot make
   * every write refresh.
   */
  #refreshDue(state: UserState, credentials: Credentials, now: number): boolean {
    return now >= this.#refreshAt(state, credentials, now);
  }

  /** When `credentials` fall due for a proactive refresh (see {@link #refreshDue}), as far as this process has seen them. */
  #refreshAt(state: UserState, credentials: Credentials, now: number): number {
    const token = credentials.userAccessToken;
    if (state.seenAccessToken !== token.accessToken.value) {
      state.seenAccessToken = token.accessToken.value;
      // A stored record was written when its token was obtained: the better start of its life, when plausible.
      const storedAt = (credentials as Partial<StoredCredentials>).updatedAt;
      state.seenAt = typeof storedAt === "number" && storedAt <= now ? storedAt : now;
    }
    const expiresAt = expiryMs(token.accessToken.expiry);
    const window = Math.min(this.#options.refreshWindowMs, Math.max(0, (expiresAt - state.seenAt) / 2));
    return expiresAt - window;
  }

  /**
   * Credentials that are safe to hand to the SDK: the refresh token is still
   * valid, and, when the SDK can refresh, the access token is not about to
   * expire (refreshing first, once per user however many writes ask).
   * Without a promise when nothing needs waiting for: a store in this
   * process's memory holding a token that needs no refresh gives the
   * credentials at once, so the writer calls the SDK in the same turn. Throws
   * (or rejects) with the same errors either way.
   */
  ensureUsable(userId: string): UsableCredentials | Promise<UsableCredentials> {
    const state = this.#users.get(userId);
    const cellOf = this.#store.cellOf;
    if (cellOf !== undefined) {
      // The usual write: the store in memory still holds the record judged last time, and it is still good.
      // Up to the next idle sweep only, so a token in use is looked up (and noted as seen) again now and then.
      const judged = state?.judged;
      if (state !== undefined && judged !== undefined && this.#stillJudged(state, judged)) return judged;
      return this.#usable(userId, this.#readAtOnce(userId, state, cellOf));
    }
    const cached = state?.lastKnown;
    if (state !== undefined && state.unsaved === undefined && cached !== undefined && this.#cacheUsable(state, cached)) {
      // What current() does for a usable cached token, with the checks in the same reaction: the common case.
      return this.#cachedRead(userId, state, cached, true) as Promise<UsableCredentials>;
    }
    return this.current(userId).then((credentials) => this.#usable(userId, credentials));
  }

  /** Whether `judged` still answers for the user: the same record in the cell, nothing newer here, the same sweep, not yet due. */
  #stillJudged(state: UserState, judged: UsableCredentials): boolean {
    return (
      state.cell?.record === judged.credentials &&
      state.unsaved === undefined &&
      state.lastUsedSweep === this.#sweeps &&
      this.#options.now() < state.usableUntil
    );
  }

  /** {@link ensureUsable} once the credentials are read: synchronous unless a refresh is due or a refusal must be recorded. */
  #usable(userId: string, credentials: Credentials): UsableCredentials | Promise<UsableCredentials> {
    const token = credentials.userAccessToken;
    const state = this.#state(userId);
    if (credentials.refreshTokenRefused === true) {
      // Another process presented this refresh token and digi.me refused it (recorded in the store).
      return this.markRejected(userId, token).then(() => {
        throw new ReauthorizationRequiredError(userId, "digi.me already rejected this user's refresh token");
      });
    }
    if (state.rejectedRefreshToken === token.refreshToken.value) {
      throw new ReauthorizationRequiredError(userId, "digi.me already rejected this user's refresh token");
    }
    const now = this.#options.now();
    if (expiryMs(token.refreshToken.expiry) <= now) {
      this.#options.emit("reauthorization:required", { userId, contractId: this.#options.contractId, reason: "refresh-token-expired" });
      throw new ReauthorizationRequiredError(userId, "the refresh token has expired");
    }
    const canRefresh = this.#options.port.canRefresh;
    if (canRefresh && this.#refreshDue(state, credentials, now)) {
      // Only the caller that starts the refresh reports it; the others share its result.
      const refreshed = !this.#refresher.isRefreshing(token);
      return this.#refresher.refresh(userId, credentials).then((next) => ({ credentials: next, refreshed: refreshed && !sameToken(next.userAccessToken, token) }));
    }
    const usable: UsableCredentials = Object.freeze({ credentials, refreshed: false });
    // The store's own record, as the store in memory holds it now (never this process's unsaved token): later writes may reuse this answer (see ensureUsable).
    if (state.cell?.record === credentials) {
      state.judged = usable;
      state.usableUntil = Math.min(expiryMs(token.refreshToken.expiry), canRefresh ? this.#refreshAt(state, credentials, now) : Infinity);
    } else {
      state.judged = undefined;
    }
    return usable;
  }

  /** Whether the store can list tokens by refresh expiry (token upkeep). */
  get canListExpiring(): boolean {
    return typeof this.#options.store.listExpiring === "function";
  }

  /**
   * Token upkeep: refresh every token of the contract whose refresh token
   * expires within `withinMs`, each through the refresher (under the lease).
   */
  refreshExpiring(withinMs: number, concurrency: number): Promise<RefreshExpiringReport> {
    return refreshExpiringTokens(
      {
        store: this.#store,
        contractId: this.#options.contractId,
        now: this.#options.now,
        emit: this.#options.emit,
        refresh: async (userId, record) => {
          const state = this.#state(userId);
          if (state.rejectedRefreshToken === record.userAccessToken.refreshToken.value) {
            throw new ReauthorizationRequiredError(userId, "digi.me already rejected this user's refresh token");
          }
          // This process may hold a newer token than the store (not yet persisted): refresh that one.
          const basis = state.unsaved ?? record;
          if (expiryMs(basis.userAccessToken.refreshToken.expiry) >= this.#options.now() + withinMs) return { credentials: basis, spent: false };
          return this.#refresher.refreshReporting(userId, basis);
        },
      },
      withinMs,
      concurrency,
    );
  }

  /**
   * After digi.me refused `refused` inside a write: newer credentials when
   * another write or process replaced the token (the write should be tried
   * again with them), or `undefined` once nothing newer appeared in time.
   */
  newerThanRefused(userId: string, refused: UserAccessToken): Promise<Credentials | undefined> {
    return this.#refresher.awaitNewer(userId, refused);
  }

  /**
   * Remember that digi.me refused `token`'s refresh token, and tell the app
   * once. Later writes holding the same token fail without an SDK call; a new
   * authorization (or a newer token in the store) clears it. The refusal is
   * also recorded in the store (see {@link recordRefusal}); the promise
   * resolves once that is done or given up on, and never rejects.
   */
  markRejected(userId: string, token: UserAccessToken): Promise<void> {
    const state = this.#state(userId);
    if (state.rejectedRefreshToken === token.refreshToken.value) return Promise.resolve();
    state.rejectedRefreshToken = token.refreshToken.value;
    state.judged = undefined;
    this.#options.emit("reauthorization:required", { userId, contractId: this.#options.contractId, reason: "refresh-rejected" });
    return this.recordRefusal(userId, token);
  }

  /**
   * Record in the store that digi.me refused `token`'s refresh token: the
   * record that holds it is stored again with `refreshTokenRefused`,
   * compare-and-set on its version, so every process sharing the store stops
   * presenting it. A record that moved on (a newer token, a new
   * authorization) is left alone. Best effort: a failing store leaves the
   * refusal in this process's memory only.
   */
  async recordRefusal(userId: string, token: UserAccessToken): Promise<void> {
    try {
      const key = this.#key(userId);
      const record = await this.#store.call("get", (store) => store.get(key));
      if (record === undefined || record.refreshTokenRefused === true || !sameToken(record.userAccessToken, token)) return;
      const refused: Credentials = { ...withToken(record, record.userAccessToken), refreshTokenRefused: true };
      const result = await this.#store.call("set", (store) => store.set(key, refused, { expectedVersion: record.version }));
      if (result.status === "stored") this.#remember(userId, result.record);
    } catch {
      // The store is down: this process still refuses the token from memory.
    }
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
    state.judged = undefined;
    // Its lifetime starts now: the refresh window is measured from here.
    state.seenAccessToken = token.accessToken.value;
    state.seenAt = this.#options.now();
    const persisted = await this.#persister.enqueue(userId, state, false);
    this.#options.emit("token:refreshed", {
      userId,
      contractId: this.#options.contractId,
      source,
      persisted,
      accessTokenExpiresAt: expiryMs(token.accessToken.expiry),
    });
    const telemetry = this.#options.telemetry;
    if (telemetry?.enabled) telemetry.count("digime.token.refreshes", { "digime.refresh.source": source, "digime.refresh.outcome": "success" });
    return { changed: true, persisted };
  }

  /** Store credentials obtained by a completed authorization, replacing any earlier ones. */
  async storeAuthorized(userId: string, credentials: Credentials): Promise<boolean> {
    const state = this.#state(userId);
    state.unsaved = credentials;
    state.lastKnown = credentials;
    state.judged = undefined;
    state.rejectedRefreshToken = undefined;
    state.seenAccessToken = credentials.userAccessToken.accessToken.value;
    state.seenAt = this.#options.now();
    // Authorization is a fresh start: whatever is stored is replaced, not compared.
    state.version = undefined;
    return this.#persister.enqueue(userId, state, true);
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
      records = await this.#store.call("listByUser", (store) => store.listByUser(userId));
    } catch (error) {
      throw this.#store.error("listByUser", error, []);
    }
    const now = this.#options.now();
    const usable = records.filter((r) => expiryMs(r.userAccessToken.refreshToken.expiry) > now);
    usable.sort((a, b) => (a.contractId === this.#options.contractId ? -1 : 0) - (b.contractId === this.#options.contractId ? -1 : 0) || b.updatedAt - a.updatedAt);
    return usable[0]?.userAccessToken;
  }

  /** Users whose newest token is only in memory. */
  unsavedUsers(): string[] {
    return [...this.#users].filter(([, state]) => state.unsaved !== undefined).map(([userId]) => userId);
  }

  /**
   * Try once more to persist every unsaved token, then stop background
   * retries and release every user's state. Resolves with the users whose
   * newest token could not be stored.
   */
  async close(): Promise<string[]> {
    this.#stopSweeping();
    this.#cachedReadWait.stopWhenIdle();
    const failed = await this.#persister.close(this.#users);
    this.#users.clear();
    this.#store.stopWhenIdle();
    return failed;
  }
}
