/**
 * The tables of the PostgreSQL stores, as the SQL `migrate()` runs. Each
 * migration is one multi-statement query: PostgreSQL runs it as one
 * transaction, under an advisory lock so that processes starting together do
 * not race on `CREATE TABLE IF NOT EXISTS`.
 */
import { qualifiedName } from "./options.js";

// Any constant works; it only has to be the same in every process.
const MIGRATION_LOCK = 7_346_021_905;

/** The refresh token's expiry (epoch seconds) of a row, as the index and `listExpiring` compute it. */
export const REFRESH_EXPIRY_SQL = "((credentials->'userAccessToken'->'refreshToken'->>'expiry')::double precision)";

/** The SQL creating the token table and its lease table, if missing. */
export function tokenTablesSql(schema: string | undefined, table: string): string {
  const tokens = qualifiedName(schema, table);
  const leases = qualifiedName(schema, `${table}_leases`);
  return `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK});
${schema === undefined ? "" : `CREATE SCHEMA IF NOT EXISTS "${schema}";\n`}CREATE TABLE IF NOT EXISTS ${tokens} (
  user_id     text    NOT NULL,
  contract_id text    NOT NULL,
  credentials jsonb   NOT NULL,                 -- { userAccessToken, postboxId?, publicKey? }: secrets
  version     integer NOT NULL CHECK (version >= 1),
  updated_at  bigint  NOT NULL,                 -- epoch ms, the server's clock
  PRIMARY KEY (user_id, contract_id)
);
-- Token upkeep (listExpiring): a contract's records by refresh-token expiry (epoch seconds), then user.
CREATE INDEX IF NOT EXISTS "${table}_refresh_expiry" ON ${tokens} (contract_id, (${REFRESH_EXPIRY_SQL}), user_id COLLATE "C");
CREATE TABLE IF NOT EXISTS ${leases} (
  user_id     text        NOT NULL,
  contract_id text        NOT NULL,
  owner       text        NOT NULL,
  expires_at  timestamptz NOT NULL,             -- compared with the server's clock only
  PRIMARY KEY (user_id, contract_id)
);`;
}

/** The SQL creating the pending authorizations table, if missing. */
export function pendingTableSql(schema: string | undefined, table: string): string {
  const pending = qualifiedName(schema, table);
  return `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK});
${schema === undefined ? "" : `CREATE SCHEMA IF NOT EXISTS "${schema}";\n`}CREATE TABLE IF NOT EXISTS ${pending} (
  state    text   PRIMARY KEY,
  bundle   jsonb,                               -- holds the code verifier; NULL once consumed
  until_ms bigint NOT NULL                      -- epoch ms: the bundle's expiry, then used-until
);
CREATE INDEX IF NOT EXISTS "${table}_until_ms" ON ${pending} (until_ms);`;
}
