/**
 * The default pending store: in this process's memory, bounded, entries expire.
 */
import { TokenStoreError } from "../../errors.js";
import type { AuthorizationBundle } from "../../authorization/bundle.js";
import type { ConsumeResult, PendingAuthorizationStore } from "../pending-store.js";
import { parseBundle } from "../pending-arguments.js";

/**
 * Options of {@link MemoryPendingAuthorizationStore}.
 *
 * @example
 * ```ts
 * const pending = new MemoryPendingAuthorizationStore({ maxEntries: 10_000 });
 * ```
 */
export interface MemoryPendingAuthorizationStoreOptions {
  /**
   * Bound on pending plus used entries; the oldest are dropped past it.
   * States that were never issued (forged or foreign) are remembered apart,
   * under the same bound, so a flood of them cannot push out real pending
   * authorizations or replay markers. Default 100,000.
   * @defaultValue `100_000`
   */
  maxEntries?: number;
  /**
   * Clock in epoch ms. Default `Date.now`.
   * @defaultValue `Date.now`
   */
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
  /** Bundles this store was given, and the states of those consumed. */
  readonly #entries: BoundedMap<Entry>;
  /** States presented that were never saved here: remembered apart, so they cannot evict the real ones. */
  readonly #unknown: BoundedMap<{ kind: "used"; until: number }>;
  readonly #now: () => number;

  constructor(options: MemoryPendingAuthorizationStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#entries = new BoundedMap(maxEntries, this.#now);
    this.#unknown = new BoundedMap(maxEntries, this.#now);
  }

  async save(input: AuthorizationBundle): Promise<void> {
    // The same checks as the shared stores (ids well-formed, fields present), so no backend keeps what another refuses.
    const bundle = parseBundle(input);
    // As the shared stores do: a state is saved once, never over a pending or used one.
    if (this.#entries.get(bundle.state) !== undefined) {
      throw new TokenStoreError("MemoryPendingAuthorizationStore.save: a pending authorization with this state already exists");
    }
    this.#unknown.delete(bundle.state);
    this.#entries.put(bundle.state, { kind: "pending", bundle, until: bundle.expiresAt });
  }

  async consume(state: string, usedUntil: number): Promise<ConsumeResult> {
    const entry = this.#entries.get(state);
    if (entry !== undefined) {
      this.#entries.put(state, { kind: "used", until: Math.max(usedUntil, entry.until) });
      // An expired pending bundle is still returned: the caller reports "expired", which says more than "unknown".
      if (entry.kind === "pending") return { status: "found", bundle: entry.bundle };
      if (entry.until > this.#now()) return { status: "used" };
      return { status: "unknown" };
    }
    const unknown = this.#unknown.get(state);
    this.#unknown.put(state, { kind: "used", until: Math.max(usedUntil, unknown?.until ?? 0) });
    if (unknown !== undefined && unknown.until > this.#now()) return { status: "used" };
    return { status: "unknown" };
  }

  /** Number of entries held (pending, used and remembered unknown states), for monitoring. */
  get size(): number {
    return this.#entries.size + this.#unknown.size;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `MemoryPendingAuthorizationStore { entries: ${this.size} }`;
  }
}

/**
 * A Map bounded to `max` entries, oldest (by last write) dropped first.
 * Expired entries are swept only once per `max / 8` inserts past the bound,
 * so a full map costs O(1) amortized per insert instead of a full scan each.
 */
class BoundedMap<V extends { until: number }> {
  readonly #map = new Map<string, V>();
  readonly #max: number;
  readonly #now: () => number;
  /** Starts high so that the first insert past the bound sweeps. */
  #insertsSinceSweep = Number.MAX_SAFE_INTEGER;

  constructor(max: number, now: () => number) {
    this.#max = max;
    this.#now = now;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  put(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size <= this.#max) return;
    this.#insertsSinceSweep += 1;
    if (this.#insertsSinceSweep >= Math.max(1, this.#max >>> 3)) {
      this.#insertsSinceSweep = 0;
      const now = this.#now();
      for (const [k, entry] of this.#map) if (entry.until <= now) this.#map.delete(k);
    }
    // Map iterates in insertion order: the first keys are the oldest.
    for (const k of this.#map.keys()) {
      if (this.#map.size <= this.#max) break;
      this.#map.delete(k);
    }
  }
}
