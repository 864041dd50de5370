/**
 * What the PostgreSQL stores are given: a `pg` Pool and where their tables
 * live. Table and schema names go into SQL text (identifiers cannot be
 * parameters), so they are checked to be plain lower-case identifiers and
 * then quoted.
 */
import type { Pool } from "pg";
import { z } from "zod";
import { callTimeoutSchema } from "../store-failure.js";

/**
 * Where a PostgreSQL-backed store keeps its rows.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { pool, schema: "digime", table: "tokens" };
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * A `pg` Pool (or anything with its `query`). The store borrows it: ending
   * it stays your job. The store adds one `error` listener to it, so a
   * connection the server drops while idle (a restart, a failover,
   * `pg_terminate_backend`, an idle-connection killer) cannot crash the
   * process with an unhandled `'error'` event; your own listeners still run.
   * Give the pool `connectionTimeoutMillis` (say 2,000) so a call waiting for
   * a connection to an unreachable server fails early (see the token stores
   * guide).
   */
  readonly pool: Pool;
  /**
   * A call that has not answered after this many ms fails with a retryable
   * `TOKEN_STORE_FAILED` (whatever the pool is still waiting for), so a down
   * server is reported fast and a write with a valid cached token carries on.
   * From 1 to 600,000.
   * @defaultValue `3000`
   */
  readonly callTimeoutMs?: number | undefined;
  /**
   * Table name: lower-case letters, digits and `_`, starting with a letter or `_`, at most 48 characters.
   * @defaultValue each store's own: `digime_tokens` for tokens, `digime_pending_authorizations` for pending authorizations
   */
  readonly table?: string | undefined;
  /**
   * Schema of the table (same rules as `table`). Defaults to the connection's `search_path` (usually `public`).
   * @defaultValue the connection's `search_path` (usually `public`)
   */
  readonly schema?: string | undefined;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
// 63 is PostgreSQL's limit; the rest leaves room for the suffixes of the lease table and index names.
const MAX_IDENTIFIER_LENGTH = 48;
const identifierMessage = `must be a lower-case SQL identifier: letters, digits and _, starting with a letter or _, at most ${MAX_IDENTIFIER_LENGTH} characters`;

const identifierSchema = z
  .string({ error: identifierMessage })
  .max(MAX_IDENTIFIER_LENGTH, { error: identifierMessage })
  .regex(IDENTIFIER, { error: identifierMessage });

/** Options schema of the PostgreSQL stores. */
// strict: a misspelt option (say `tableName`) is an error, not a silent default.
export const postgresOptionsSchema = z.strictObject({
  pool: z.custom<Pool>((value) => typeof value === "object" && value !== null && typeof (value as { query?: unknown }).query === "function", {
    error: "must be a pg Pool",
  }),
  table: identifierSchema.optional(),
  schema: identifierSchema.optional(),
  callTimeoutMs: callTimeoutSchema.optional(),
});

/** Pools that already carry the stores' `error` listener: one listener per pool, however many stores share it. */
const handledPools = new WeakSet<object>();

/**
 * Make sure an error the pool (or client) emits cannot crash the
 * process. pg-pool removes a client whose idle connection fails and then
 * emits `'error'` on the pool; with no listener, Node throws it. Calls in
 * flight are not affected by this listener: they reject on their own and
 * reach the caller as a retryable `TOKEN_STORE_FAILED`.
 */
export function handlePoolErrors(pool: Pool): void {
  const emitter = pool as unknown as { on?: unknown };
  if (typeof emitter.on !== "function" || handledPools.has(pool)) return;
  handledPools.add(pool);
  // Nothing to do here: the pool has dropped the broken connection and opens a new one on the next query.
  pool.on("error", () => undefined);
}

/** `"schema"."name"`, or `"name"` without a schema. Only ever called with checked identifiers. */
export function qualifiedName(schema: string | undefined, name: string): string {
  return schema === undefined ? `"${name}"` : `"${schema}"."${name}"`;
}

/** The server's clock in epoch milliseconds, as SQL. `clock_timestamp()`: the time now, not at the transaction's start. */
export const SERVER_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
