/**
 * Shared pieces of {@link ExpiringTokens.listExpiring}: option parsing and the
 * selection for stores that hold their records in memory.
 * @module
 */
import { z } from "zod";
import { idSchema } from "../internal/ids.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import type { ExpiringTokens, ListExpiringOptions, StoredCredentials } from "./token-store.js";

const optionsSchema = z
  .object({
    refreshTokenExpiresBefore: z.number({ error: "must be a number (epoch ms)" }).finite(),
    limit: z.number().int().min(1).max(1000),
    after: z.object({ refreshTokenExpiresAt: z.number().finite(), userId: idSchema(1024) }).optional(),
  })
  .strict();

/** Checks `listExpiring`'s arguments; throws `INVALID_ARGUMENT` naming `contractId` or `options`. */
export function parseListExpiring(contractId: unknown, options: unknown): { contractId: string; options: ListExpiringOptions } {
  const id = parseOrThrow(idSchema(256), contractId, "INVALID_ARGUMENT", "contractId");
  return { contractId: id, options: parseOrThrow(optionsSchema, options, "INVALID_ARGUMENT", "options") };
}

/** Epoch ms when the record's refresh token expires. */
export function refreshExpiresAt(record: { userAccessToken: { refreshToken: { expiry: number } } }): number {
  return record.userAccessToken.refreshToken.expiry * 1000;
}

/** Whether `record` comes strictly after the cursor, in (expiry, userId) order. */
function afterCursor(record: StoredCredentials, after: ListExpiringOptions["after"]): boolean {
  if (after === undefined) return true;
  const at = refreshExpiresAt(record);
  return at > after.refreshTokenExpiresAt || (at === after.refreshTokenExpiresAt && record.userId > after.userId);
}

/** The page {@link ExpiringTokens.listExpiring} returns, chosen from every record of a store. */
export function selectExpiring(records: Iterable<StoredCredentials>, contractId: string, options: ListExpiringOptions): StoredCredentials[] {
  const chosen: StoredCredentials[] = [];
  for (const record of records) {
    if (record.contractId !== contractId || refreshExpiresAt(record) >= options.refreshTokenExpiresBefore || !afterCursor(record, options.after)) continue;
    chosen.push(record);
  }
  chosen.sort((a, b) => refreshExpiresAt(a) - refreshExpiresAt(b) || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  return chosen.slice(0, options.limit).map((record) => structuredClone(record));
}

export type { ExpiringTokens };
