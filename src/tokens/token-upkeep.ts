/**
 * Token upkeep: refresh every stored token of the contract whose refresh
 * token expires soon, so users who are written to rarely stay connected.
 * Each token goes through the keeper's refresher (under the store's lease
 * when it has one), so across processes each is refreshed once.
 * @module
 */
import { DigimeWriteError, type ErrorCode } from "../errors.js";
import type { EmitEvent } from "../events.js";
import type { GuardedStore } from "./guarded-store.js";
import { refreshExpiresAt } from "../stores/expiring.js";
import type { Refreshed } from "./token-refresher.js";
import type { ExpiringCursor, StoredCredentials } from "../stores/token-store.js";

/**
 * What {@link WriteClient.refreshExpiring} did, user by user.
 *
 * @example
 * ```ts
 * const report: RefreshExpiringReport = await client.refreshExpiring({ withinMs: 7 * 86_400_000 });
 * log.info({ refreshed: report.refreshed.length, expired: report.expired.length }, "token upkeep");
 * ```
 */
export interface RefreshExpiringReport {
  /** Tokens found whose refresh token expires within the window. */
  readonly checked: number;
  /** Users whose token this call refreshed (and stored). */
  readonly refreshed: readonly string[];
  /** Users whose token another refresh (a write, another process) had replaced already. */
  readonly refreshedElsewhere: readonly string[];
  /** Users whose refresh token had already expired: only a new consent helps (`reauthorization:required` is emitted). */
  readonly expired: readonly string[];
  /** Users whose refresh failed, with the error code (`REAUTHORIZATION_REQUIRED` when digi.me refused the token). */
  readonly failed: readonly UpkeepFailure[];
}

/**
 * One user whose token upkeep failed.
 *
 * @example
 * ```ts
 * for (const { userId, code }: UpkeepFailure of report.failed) log.warn({ userId, code }, "token upkeep failed");
 * ```
 */
export interface UpkeepFailure {
  /** The user. */
  readonly userId: string;
  /** Why: the code of the error the refresh met. */
  readonly code: ErrorCode;
}

/** What upkeep needs from the keeper. */
export interface UpkeepDeps {
  store: GuardedStore;
  contractId: string;
  now: () => number;
  emit: EmitEvent;
  refresh(userId: string, basis: StoredCredentials): Promise<Refreshed>;
}

const PAGE = 100;

/** One pass over the contract's tokens expiring before `now + withinMs`. */
export async function refreshExpiringTokens(deps: UpkeepDeps, withinMs: number, concurrency: number): Promise<RefreshExpiringReport> {
  const { store, contractId } = deps;
  const now = deps.now();
  const before = now + withinMs;
  const report = { checked: 0, refreshed: [] as string[], refreshedElsewhere: [] as string[], expired: [] as string[], failed: [] as Array<{ userId: string; code: ErrorCode }> };
  let after: ExpiringCursor | undefined;
  for (;;) {
    const cursor = after;
    let page: StoredCredentials[];
    try {
      page = await store.call("listExpiring", (s) => s.listExpiring!(contractId, { refreshTokenExpiresBefore: before, limit: PAGE, ...(cursor === undefined ? {} : { after: cursor }) }));
    } catch (error) {
      throw store.error("listExpiring", error, []);
    }
    if (page.length === 0) break;
    report.checked += page.length;
    const last = page.at(-1)!;
    after = { refreshTokenExpiresAt: refreshExpiresAt(last), userId: last.userId };
    for (let i = 0; i < page.length; i += concurrency) {
      await Promise.all(page.slice(i, i + concurrency).map((record) => upkeepOne(deps, record, now, report)));
    }
    if (page.length < PAGE) break;
  }
  return Object.freeze(report);
}

async function upkeepOne(
  deps: UpkeepDeps,
  record: StoredCredentials,
  now: number,
  report: { refreshed: string[]; refreshedElsewhere: string[]; expired: string[]; failed: Array<{ userId: string; code: ErrorCode }> },
): Promise<void> {
  const { userId } = record;
  if (refreshExpiresAt(record) <= now) {
    report.expired.push(userId);
    deps.emit("reauthorization:required", { userId, contractId: deps.contractId, reason: "refresh-token-expired" });
    return;
  }
  try {
    const { spent } = await deps.refresh(userId, record);
    (spent ? report.refreshed : report.refreshedElsewhere).push(userId);
  } catch (error) {
    report.failed.push({ userId, code: error instanceof DigimeWriteError ? error.code : "DELIVERY_REJECTED" });
  }
}
