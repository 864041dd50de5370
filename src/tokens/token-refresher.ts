/**
 * Refreshing a user's token: once at a time per refresh token in this
 * process, and, when the store offers refresh leases, once at a time across
 * every process that shares the store. A refused refresh token is only
 * reported as a lost authorization when nothing newer turns up anywhere.
 * @module
 */
import { randomUUID } from "node:crypto";
import { DigimeWriteError, ReauthorizationRequiredError, TokenStoreError } from "../errors.js";
import { pollUntil } from "../internal/backoff.js";
import { decide, describeSdkFailure, SdkCallError } from "../sdk/sdk-failure.js";
import type { SdkPort } from "../sdk/sdk-port.js";
import { NO_TELEMETRY, type Telemetry } from "../telemetry/telemetry.js";
import type { UserAccessToken } from "../sdk/types.js";
import { tokenSecrets, withToken } from "./credentials.js";
import type { GuardedStore } from "./guarded-store.js";
import { isAtLeastAsNew, sameToken } from "./token-comparison.js";
import type { Credentials, CredentialsKey } from "../stores/token-store.js";

/**
 * How refreshes are coordinated with other processes sharing the token store.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, refreshCoordination: { leaseMs: 20_000, newerTokenWaitMs: 5_000 } });
 * ```
 */
export interface RefreshCoordinationOptions {
  /**
   * How long a user's refresh lease lasts (stores with refresh leases, `RefreshLeases` in "digime-write-pipeline/stores").
   * On a store that can renew leases (`renewRefreshLease`: the memory, file,
   * Redis and PostgreSQL stores) the holder renews it every third of this
   * while its refresh runs, so a holder that dies is replaced within about
   * this long however slow refreshes are. On a store that cannot renew, the
   * lease lasts at least 10,000 ms. Default 3,000 ms.
   */
  leaseMs: number;
  /**
   * How long a write waits for another process's refresh (the lease holder)
   * before it fails with a retryable `TOKEN_STORE_FAILED`. Default 15,000 ms.
   */
  holderWaitMs: number;
  /**
   * After digi.me refuses a refresh token, how long to look for a newer token
   * another process (or another write in this one) may be storing, before the
   * user is reported as needing to consent again. Default 3,000 ms.
   */
  newerTokenWaitMs: number;
}

/** Everything the refresher needs from the keeper. */
export interface TokenRefresherOptions {
  store: GuardedStore;
  port: SdkPort;
  contractId: string;
  now: () => number;
  coordination: RefreshCoordinationOptions;
  /** The newest credentials known now: this process's unsaved token, else the store's (read afresh). */
  latest(userId: string): Promise<Credentials | undefined>;
  /** Whether `credentials` are fresh enough that no refresh is due. */
  fresh(userId: string, credentials: Credentials): boolean;
  /** Persist a token obtained by a refresh of `basis` (before it is used). */
  accept(userId: string, basis: Credentials, token: UserAccessToken): Promise<unknown>;
  /**
   * Remember and announce a refresh token digi.me refused with nothing newer
   * anywhere, and record the refusal in the store (so no other process
   * presents it); resolves once recorded or given up on.
   */
  rejected(userId: string, token: UserAccessToken): Promise<void>;
  /** A span per refresh call; failed refreshes counted. Default: off. */
  telemetry?: Telemetry;
}

/** Polling a shared store for another process's result: quick at first, then gentle. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/** A lease on a store that cannot renew it must outlast a slow refresh on its own. */
const UNRENEWED_LEASE_MS = 10_000;

/** Whether `candidate` replaces `token`: a different pair, at least as new. */
function replaces(candidate: Credentials | undefined, token: UserAccessToken): candidate is Credentials {
  return candidate !== undefined && !sameToken(candidate.userAccessToken, token) && isAtLeastAsNew(candidate.userAccessToken, token);
}

/** The credentials a refresh ended with, and whether this refresh spent the refresh token (else someone else had). */
export interface Refreshed {
  credentials: Credentials;
  spent: boolean;
}

/** The keeper's refresher: one refresh per refresh token in this process, under the store's lease across processes. */
export class TokenRefresher {
  readonly #options: TokenRefresherOptions;
  /** Refreshes in flight in this process, by the refresh token being spent. */
  readonly #inFlight = new Map<string, Promise<Refreshed>>();

  constructor(options: TokenRefresherOptions) {
    this.#options = options;
  }

  #key(userId: string): CredentialsKey {
    return { userId, contractId: this.#options.contractId };
  }

  /** Whether a refresh of this token is already running here (its caller reports it; the others share it). */
  isRefreshing(token: UserAccessToken): boolean {
    return this.#inFlight.has(token.refreshToken.value);
  }

  /**
   * Credentials refreshed from `basis`, or newer ones another refresh stored
   * meanwhile. One refresh per refresh token in this process; with leases,
   * one per user and contract across processes.
   *
   * @throws ReauthorizationRequiredError when digi.me refused the refresh token and nothing newer appeared.
   */
  async refresh(userId: string, basis: Credentials): Promise<Credentials> {
    return (await this.refreshReporting(userId, basis)).credentials;
  }

  /**
   * As {@link refresh}, saying whether this call spent the refresh token
   * (`false`: another refresh, here or in another process, had replaced it).
   * A caller sharing a refresh already running here is told `false`.
   */
  refreshReporting(userId: string, basis: Credentials): Promise<Refreshed> {
    const spent = basis.userAccessToken.refreshToken.value;
    const running = this.#inFlight.get(spent);
    if (running !== undefined) return running.then((r) => ({ credentials: r.credentials, spent: false }));
    const run = (this.#options.store.leases === undefined ? this.#refreshHere(userId, basis) : this.#refreshUnderLease(userId, basis)).finally(() => {
      this.#inFlight.delete(spent);
    });
    this.#inFlight.set(spent, run);
    return run;
  }

  /** No shared lease: refresh at once (this process's single flight is the only coordination). */
  async #refreshHere(userId: string, basis: Credentials): Promise<Refreshed> {
    // A store that cannot be read now must not stop a refresh that is due: the basis is the best we know.
    const latest = await this.#options.latest(userId).catch(() => undefined);
    if (replaces(latest, basis.userAccessToken)) return { credentials: latest, spent: false };
    await this.#refuseIfRecorded(userId, latest, basis);
    return this.#spend(userId, basis);
  }

  /**
   * Stop when the store records that digi.me refused the refresh token of
   * `latest`, the token this refresh would spend (or a newer one): another
   * process presented it, presenting it again can only be refused again, so
   * the user must consent again. A refusal recorded on an older token than
   * `basis` is not ours to act on.
   */
  async #refuseIfRecorded(userId: string, latest: Credentials | undefined, basis: Credentials): Promise<void> {
    if (latest?.refreshTokenRefused !== true) return;
    if (!sameToken(latest.userAccessToken, basis.userAccessToken) && !isAtLeastAsNew(latest.userAccessToken, basis.userAccessToken)) return;
    await this.#options.rejected(userId, latest.userAccessToken);
    throw new ReauthorizationRequiredError(userId, "digi.me already rejected this user's refresh token");
  }

  /**
   * Take the user's lease, re-read, and refresh only if the token is still
   * due; while another process holds the lease, wait for the token it stores.
   */
  async #refreshUnderLease(userId: string, basis: Credentials): Promise<Refreshed> {
    const { store, coordination } = this.#options;
    const leases = store.leases!;
    const key = this.#key(userId);
    const ttlMs = typeof leases.renewRefreshLease === "function" ? coordination.leaseMs : Math.max(coordination.leaseMs, UNRENEWED_LEASE_MS);
    // Each try: take the lease and refresh, or see whether its holder stored a newer token meanwhile.
    const tryOnce = async (): Promise<Refreshed | undefined> => {
      const owner = randomUUID();
      const taken = await store.call("acquireRefreshLease", () => leases.acquireRefreshLease(key, { owner, ttlMs }));
      if (taken) {
        const renewing = this.#keepRenewing(key, owner, ttlMs);
        try {
          // Under the lease, the store is the truth: another process may have refreshed since we read.
          const latest = (await this.#options.latest(userId).catch(() => undefined)) ?? basis;
          if (replaces(latest, basis.userAccessToken) && this.#options.fresh(userId, latest)) return { credentials: latest, spent: false };
          await this.#refuseIfRecorded(userId, latest, latest);
          return await this.#spend(userId, latest);
        } finally {
          clearInterval(renewing);
          // A release that fails only delays the next refresh until the lease expires.
          await store.call("releaseRefreshLease", () => leases.releaseRefreshLease(key, owner)).catch(() => undefined);
        }
      }
      const latest = await this.#options.latest(userId).catch(() => undefined);
      if (replaces(latest, basis.userAccessToken)) return { credentials: latest, spent: false };
      await this.#refuseIfRecorded(userId, latest, basis);
      return undefined;
    };
    const refreshed = await pollUntil(tryOnce, { minDelayMs: FIRST_POLL_MS, maxDelayMs: MAX_POLL_MS, untilMs: coordination.holderWaitMs });
    if (refreshed !== undefined) return refreshed;
    throw new TokenStoreError(`Another process held this user's refresh lease for more than ${coordination.holderWaitMs} ms without storing a new token`);
  }

  /**
   * Renew the lease every third of its ttl while the refresh runs, so it can
   * be short (a dead holder is replaced quickly) and still outlast a slow
   * refresh. A renewal that fails or finds the lease gone is let be:
   * compare-and-set on `version` still fences whatever this holder stores.
   */
  #keepRenewing(key: CredentialsKey, owner: string, ttlMs: number): ReturnType<typeof setInterval> | undefined {
    const { store } = this.#options;
    const renew = store.leases?.renewRefreshLease;
    if (renew === undefined) return undefined;
    const leases = store.leases!;
    return setInterval(() => {
      void store.call("renewRefreshLease", () => renew.call(leases, key, { owner, ttlMs })).catch(() => undefined);
    }, Math.max(50, Math.floor(ttlMs / 3)));
  }

  /** Spend `basis`'s refresh token, persist the new pair, and return it. */
  async #spend(userId: string, basis: Credentials): Promise<Refreshed> {
    const telemetry = this.#options.telemetry ?? NO_TELEMETRY;
    const step = telemetry.enabled ? telemetry.start("digime.token.refresh", { "digime.contract.id": this.#options.contractId }) : undefined;
    if (step === undefined) return this.#spendNow(userId, basis);
    let refreshed: Refreshed;
    try {
      refreshed = await step.run(() => this.#spendNow(userId, basis));
    } catch (error) {
      step.end(error);
      telemetry.count("digime.token.refreshes", { "digime.refresh.source": "proactive", "digime.refresh.outcome": "failure" });
      throw error;
    }
    step.end();
    return refreshed;
  }

  async #spendNow(userId: string, basis: Credentials): Promise<Refreshed> {
    let token: UserAccessToken;
    try {
      token = await this.#options.port.refresh(basis.userAccessToken);
    } catch (error) {
      if (error instanceof DigimeWriteError) throw error;
      const info = describeSdkFailure(error, tokenSecrets(basis), this.#options.now());
      const cause = new SdkCallError(info);
      if (decide(info) !== "invalid-token") throw cause;
      // Refused: another process (or a write's own in-SDK refresh) may have spent it first.
      const newer = await this.awaitNewer(userId, basis.userAccessToken);
      if (newer !== undefined) return { credentials: newer, spent: false };
      // Recorded before the lease is released: the next holder reads the refusal instead of presenting the token again.
      await this.#options.rejected(userId, basis.userAccessToken);
      throw new ReauthorizationRequiredError(userId, "digi.me rejected the refresh token", { cause });
    }
    await this.#options.accept(userId, basis, token);
    return { credentials: withToken(basis, token), spent: true };
  }

  /**
   * Credentials newer than `refused`, when some appear within
   * `newerTokenWaitMs`: digi.me refused `refused`, and the only question left
   * is whether someone else already replaced it.
   */
  async awaitNewer(userId: string, refused: UserAccessToken): Promise<Credentials | undefined> {
    return pollUntil(
      async () => {
        const latest = await this.#options.latest(userId).catch(() => undefined);
        return replaces(latest, refused) ? latest : undefined;
      },
      { minDelayMs: FIRST_POLL_MS, maxDelayMs: MAX_POLL_MS, untilMs: this.#options.coordination.newerTokenWaitMs },
    );
  }
}
