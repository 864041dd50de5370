/**
 * What the PostgreSQL stores are given: a `pg` Pool and where their tables
 * live. Table and schema names go into SQL text (identifiers cannot be
 * parameters), so they are checked to be plain lower-case identifiers and
 * then quoted.
 */
import type { Pool } from "pg";
import { z } from "zod";

/**
 * Where a PostgreSQL-backed store keeps its rows.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { pool, schema: "digime", table: "tokens" };
 * ```
 */
export interface PostgresStoreOptions {
  /** A `pg` Pool (or anything with its `query`). The store borrows it: ending it stays your job. */
  readonly pool: Pool;
  /** Table name: lower-case letters, digits and `_`, starting with a letter or `_`, at most 48 characters. */
  readonly table?: string | undefined;
  /** Schema of the table (same rules as `table`). Defaults to the connection's `search_path` (usually `public`). */
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

/** @internal Options schema of the PostgreSQL stores. */
// strict: a misspelt option (say `tableName`) is an error, not a silent default.
export const postgresOptionsSchema = z.strictObject({
  pool: z.custom<Pool>((value) => typeof value === "object" && value !== null && typeof (value as { query?: unknown }).query === "function", {
    error: "must be a pg Pool",
  }),
  table: identifierSchema.optional(),
  schema: identifierSchema.optional(),
});

/** @internal `"schema"."name"`, or `"name"` without a schema. Only ever called with checked identifiers. */
export function qualifiedName(schema: string | undefined, name: string): string {
  return schema === undefined ? `"${name}"` : `"${schema}"."${name}"`;
}

/** @internal The server's clock in epoch milliseconds, as SQL. `clock_timestamp()`: the time now, not at the transaction's start. */
export const SERVER_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
