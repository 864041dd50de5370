/**
 * Persisting a user's newest token: compare-and-set rounds that keep the
 * newest token on conflict, a few quick tries before a write settles, then
 * background tries while the token waits in memory.
 * @module
 */
import type { Telemetry } from "../telemetry/telemetry.js";
import { TokenStoreError } from "../errors.js";
import type { EmitEvent } from "../events.js";
import { withBackoff } from "../internal/backoff.js";
import { sleep } from "../internal/sleep.js";
import { tokenSecrets } from "./credentials.js";
import type { GuardedStore } from "./guarded-store.js";
import { isAtLeastAsNew, sameToken } from "./token-comparison.js";
import type { Credentials, CredentialsKey } from "../stores/token-store.js";

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

/** What the persister keeps per user; part of the keeper's per-user state. */
export interface PersistState {
  /** Newest credentials not yet in the store. */
  unsaved: Credentials | undefined;
  /** Last credentials seen, for use while the store cannot be read. */
  lastKnown: Credentials | undefined;
  /** Store version of what we last read or wrote; `null`: nothing stored; `undefined`: unknown. */
  version: number | null | undefined;
  /** Serialises persistence for this user. */
  persistChain: Promise<boolean>;
  /** Persist runs queued or running on the chain. */
  persisting: number;
  backgroundActive: boolean;
  failedPersists: number;
}

/** Everything the persister needs. */
export interface TokenPersisterOptions {
  store: GuardedStore;
  contractId: string;
  emit: EmitEvent;
  retry: PersistRetryOptions;
  /** Counts failed persist tries. Default: off. */
  telemetry?: Telemetry;
}

/** Stores the keeper's newest tokens: compare-and-set tries before a write settles, then tries in the background. */
export class TokenPersister {
  readonly #options: TokenPersisterOptions;
  readonly #stopBackground = new AbortController();
  #closed = false;

  constructor(options: TokenPersisterOptions) {
    this.#options = options;
  }

  #key(userId: string): CredentialsKey {
    return { userId, contractId: this.#options.contractId };
  }

  /**
   * Persist `state.unsaved` after whatever this user's chain already holds.
   * Resolves `true` once it is stored, `false` when the quick tries failed
   * (the background takes over). `replace` stores over anything (a new authorization).
   */
  enqueue(userId: string, state: PersistState, replace: boolean): Promise<boolean> {
    state.persisting += 1;
    const run = state.persistChain.then(() => this.#persistInline(userId, state, replace));
    state.persistChain = run
      .catch(() => false)
      .finally(() => {
        state.persisting -= 1;
      });
    return run;
  }

  /** Persist `state.unsaved` with a few quick tries; past them, hand over to the background loop. */
  async #persistInline(userId: string, state: PersistState, replace: boolean): Promise<boolean> {
    const { inlineAttempts, minDelayMs } = this.#options.retry;
    try {
      await withBackoff(
        async () => {
          if (state.unsaved === undefined) return;
          await this.#persistOnce(userId, state, replace);
          state.failedPersists = 0;
        },
        {
          retries: inlineAttempts - 1,
          minDelayMs,
          onFailure: () => {
            state.failedPersists += 1;
            if (this.#options.telemetry?.enabled) this.#options.telemetry.count("digime.token.persist_failures");
          },
        },
      );
      return true;
    } catch (error) {
      const wrapped = this.#options.store.error("set", error, [...tokenSecrets(state.unsaved), ...tokenSecrets(state.lastKnown)]);
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
  }

  /** One compare-and-set round, resolving conflicts by keeping the newest token. */
  async #persistOnce(userId: string, state: PersistState, replace: boolean): Promise<void> {
    const key = this.#key(userId);
    const store = this.#options.store;
    // Conflicts are resolved by reading; bounded so a store that always conflicts cannot spin forever.
    for (let round = 0; round < 16; round += 1) {
      const desired = state.unsaved;
      if (desired === undefined) return;
      if (state.version === undefined) state.version = (await store.call("get", (s) => s.get(key)))?.version ?? null;
      const expectedVersion = state.version;
      const result = await store.call("set", (s) => s.set(key, desired, { expectedVersion }));
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

  #startBackground(userId: string, state: PersistState, replace: boolean): void {
    if (state.backgroundActive || this.#closed) return;
    state.backgroundActive = true;
    const { minDelayMs, maxDelayMs } = this.#options.retry;
    const signal = this.#stopBackground.signal;
    // Slower than the inline tries (they already failed), and until the token is stored or the client closes.
    const loop = async (): Promise<void> => {
      try {
        await sleep(Math.min(maxDelayMs, minDelayMs * 4), signal);
        await withBackoff(
          async () => {
            if (state.unsaved !== undefined && !(await this.#enqueueQuiet(userId, state, replace))) throw new TokenStoreError("the token is not stored yet");
          },
          { retries: Number.POSITIVE_INFINITY, minDelayMs: Math.min(maxDelayMs, minDelayMs * 8), maxDelayMs, signal },
        );
      } catch {
        // Stopped by close(): its last inline try reports what stayed unsaved.
      }
    };
    void loop().finally(() => {
      state.backgroundActive = false;
    });
  }

  /** A background try: same chain as inline tries, one attempt, no event per failure. */
  #enqueueQuiet(userId: string, state: PersistState, replace: boolean): Promise<boolean> {
    state.persisting += 1;
    const run = state.persistChain.then(async () => {
      if (state.unsaved === undefined) return true;
      try {
        await this.#persistOnce(userId, state, replace);
        state.failedPersists = 0;
        return true;
      } catch {
        state.failedPersists += 1;
        if (this.#options.telemetry?.enabled) this.#options.telemetry.count("digime.token.persist_failures");
        return false;
      }
    });
    state.persistChain = run
      .catch(() => false)
      .finally(() => {
        state.persisting -= 1;
      });
    return run;
  }

  /**
   * Try once more to persist every unsaved token, then stop background
   * retries. Resolves with the users whose newest token could not be stored.
   */
  async close(users: Iterable<[string, PersistState]>): Promise<string[]> {
    this.#closed = true;
    this.#stopBackground.abort();
    const failed: string[] = [];
    for (const [userId, state] of users) {
      await state.persistChain;
      if (state.unsaved === undefined) continue;
      if (!(await this.#persistInline(userId, state, false))) failed.push(userId);
    }
    return failed;
  }
}
