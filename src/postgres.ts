/**
 * PostgreSQL-backed stores for apps that run in several processes or on
 * several machines: tokens with refresh leases, and pending authorizations.
 * Needs the optional peer dependency `pg`.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { PostgresPendingAuthorizationStore, PostgresTokenStore } from "digime-write-pipeline/postgres";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const tokenStore = new PostgresTokenStore({ pool });
 * const pendingAuthorizations = new PostgresPendingAuthorizationStore({ pool });
 * await tokenStore.migrate();
 * await pendingAuthorizations.migrate();
 * const client = new WriteClient({ ...options, tokenStore, pendingAuthorizations });
 * ```
 * @module digime-write-pipeline/postgres
 */
export { PostgresTokenStore, type PostgresTokenStoreOptions } from "./stores/postgres/postgres-token-store.js";
export {
  PostgresPendingAuthorizationStore,
  type PostgresPendingAuthorizationStoreOptions,
} from "./stores/postgres/postgres-pending-store.js";
export type { PostgresStoreOptions } from "./stores/postgres/options.js";
