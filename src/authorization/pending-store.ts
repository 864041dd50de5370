/**
 * Where authorization bundles wait for their callback, and where used states
 * are remembered so that a callback cannot be replayed.
 */
import type { AuthorizationBundle } from "./bundle.js";

/**
 * Outcome of {@link PendingAuthorizationStore.consume}.
 *
 * @example
 * ```ts
 * async consume(state: string, usedUntil: number): Promise<ConsumeResult> {
 *   const row = await db.takePending(state, usedUntil);
 *   return row === undefined ? { status: "unknown" } : row.used ? { status: "used" } : { status: "found", bundle: row.bundle };
 * }
 * ```
 */
export type ConsumeResult =
  | {
      /** The bundle was waiting and is now taken. */
      readonly status: "found";
      /** The bundle saved under the state. */
      readonly bundle: AuthorizationBundle;
    }
  | {
      /** The state was consumed before: a replay. */
      readonly status: "used";
    }
  | {
      /** No bundle was ever saved under the state (or it expired). */
      readonly status: "unknown";
    };

/**
 * Keeps pending authorizations, one-time use. Implement it over a shared
 * database (Redis, SQL) when several servers complete authorizations.
 *
 * @example
 * ```ts
 * const pending = new MemoryPendingAuthorizationStore({ maxEntries: 50_000 });
 * const client = new WriteClient({ ...options, pendingAuthorizations: pending });
 * ```
 */
export interface PendingAuthorizationStore {
  /** Keep `bundle` under `bundle.state` until `bundle.expiresAt`. */
  save(bundle: AuthorizationBundle): Promise<void>;
  /**
   * Atomically take the bundle stored under `state` and remember `state` as
   * used until `usedUntil` (epoch ms). A state seen before answers `used`; a
   * state never saved answers `unknown` and is remembered as used too.
   */
  consume(state: string, usedUntil: number): Promise<ConsumeResult>;
}

/**
 * Options of {@link MemoryPendingAuthorizationStore}.
 *
 * @example
 * ```ts
 * const pending = new MemoryPendingAuthorizationStore({ maxEntries: 10_000 });
 * ```
 */
export interface MemoryPendingAuthorizationStoreOptions {
  /** Bound on pending plus used entries; the oldest are dropped past it. Default 100,000. */
  maxEntries?: number;
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
}

type Entry = { kind: "pending"; bundle: AuthorizationBundle; until: number } | { kind: "used"; until: number };

/**
 * The default pending store: in this process's memory, bounded, entries
 * expire. Right for one server; with several, share a store or rely on the
 * sealed bundle.
 *
 * @example
 * ```ts
 * const store = new MemoryPendingAuthorizationStore();
 * await store.save(bundle);
 * (await store.consume(bundle.state, bundle.expiresAt)).status; // "found", then "used"
 * ```
 */
export class MemoryPendingAuthorizationStore implements PendingAuthorizationStore {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: MemoryPendingAuthorizationStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async save(bundle: AuthorizationBundle): Promise<void> {
    this.#put(bundle.state, { kind: "pending", bundle, until: bundle.expiresAt });
  }

  async consume(state: string, usedUntil: number): Promise<ConsumeResult> {
    const entry = this.#entries.get(state);
    this.#put(state, { kind: "used", until: Math.max(usedUntil, entry?.until ?? 0) });
    // An expired pending bundle is still returned: the caller reports "expired", which says more than "unknown".
    if (entry?.kind === "pending") return { status: "found", bundle: entry.bundle };
    if (entry?.kind === "used" && entry.until > this.#now()) return { status: "used" };
    return { status: "unknown" };
  }

  /** Number of entries held (pending and used), for monitoring. */
  get size(): number {
    return this.#entries.size;
  }

  #put(state: string, entry: Entry): void {
    this.#entries.delete(state);
    this.#entries.set(state, entry);
    if (this.#entries.size > this.#maxEntries) this.#sweep();
  }

  /** Drop expired entries, then the oldest ones while over the bound (Map keeps insertion order). */
  #sweep(): void {
    const now = this.#now();
    for (const [state, entry] of this.#entries) if (entry.until <= now) this.#entries.delete(state);
    for (const state of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(state);
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `MemoryPendingAuthorizationStore { entries: ${this.#entries.size} }`;
  }
}
