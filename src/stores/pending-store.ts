/**
 * The pending-authorization store contract: where authorization bundles wait
 * for their callback, and where used states are remembered so that a
 * callback cannot be replayed. Implementations: memory/, redis/, postgres/.
 */
import type { AuthorizationBundle } from "../authorization/bundle.js";

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
