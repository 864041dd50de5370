/**
 * A {@link TokenStore} in PostgreSQL. One row per user and contract;
 * compare-and-set is a single conditional statement (`INSERT … ON CONFLICT
 * DO NOTHING` to create, `UPDATE … WHERE version = $n` after), so the
 * database's row locks make it atomic. Refresh leases are rows of a second
 * table whose expiry is compared with the server's clock: unlike an advisory
 * lock, a lease row does not depend on which pooled connection took it.
 */
import type { Pool } from "pg";
import { TokenStoreError } from "../../errors.js";
import {
  buildStoredCredentials,
  credentialsSchema,
  parseCredentials,
  parseCredentialsKey,
  parseLeaseOptions,
  parseLeaseOwner,
  parseSetOptions,
  parseUserId,
  storedCredentialsSchema,
} from "../credentials-schema.js";
import type {
  Credentials,
  CredentialsKey,
  ExpiringTokens,
  ListExpiringOptions,
  RefreshLeaseOptions,
  RefreshLeases,
  SetOptions,
  SetResult,
  StoredCredentials,
  TokenStore,
} from "../token-store.js";
import { parseStoreOptions } from "../parse-options.js";
import { credentialSecrets, DEFAULT_CALL_TIMEOUT_MS, guarded, StoreCalls } from "../store-failure.js";
import { handlePoolErrors, postgresOptionsSchema, qualifiedName, SERVER_NOW_MS, type PostgresStoreOptions } from "./options.js";
import { REFRESH_EXPIRY_SQL, tokenTablesSql } from "./schema.js";
import { parseListExpiring } from "../expiring.js";

/**
 * Options of {@link PostgresTokenStore}.
 *
 * @example
 * ```ts
 * const store = new PostgresTokenStore({ pool, table: "digime_tokens" } satisfies PostgresTokenStoreOptions);
 * ```
 */
export interface PostgresTokenStoreOptions extends PostgresStoreOptions {
  /**
   * Table of the tokens; leases go to `<table>_leases`.
   * @defaultValue `"digime_tokens"`
   */
  readonly table?: string | undefined;
}

interface TokenRow {
  credentials: unknown;
  version: number;
  updated_at: string | number;
}

const RECORD_COLUMNS = "credentials, version, updated_at";

/**
 * A {@link TokenStore} with {@link RefreshLeases} in PostgreSQL, for apps that
 * run in several processes or on several machines. Call {@link migrate} once
 * (or run the SQL it runs, shown by {@link migrationSql}) before use.
 * `updatedAt` and lease expiry use the database server's clock.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { PostgresTokenStore } from "digime-write-pipeline/postgres";
 *
 * const tokenStore = new PostgresTokenStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await tokenStore.migrate();
 * const client = new WriteClient({ ...options, tokenStore });
 * ```
 */
export class PostgresTokenStore implements TokenStore, RefreshLeases, ExpiringTokens {
  readonly #pool: Pool;
  readonly #calls: StoreCalls;
  readonly #schema: string | undefined;
  readonly #tableName: string;
  readonly #table: string;
  readonly #leases: string;

  constructor(options: PostgresTokenStoreOptions) {
    const parsed = parseStoreOptions(postgresOptionsSchema, options, "PostgresTokenStore");
    this.#pool = parsed.pool;
    handlePoolErrors(parsed.pool);
    this.#calls = new StoreCalls(parsed.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    this.#schema = parsed.schema;
    this.#tableName = parsed.table ?? "digime_tokens";
    this.#table = qualifiedName(this.#schema, this.#tableName);
    this.#leases = qualifiedName(this.#schema, `${this.#tableName}_leases`);
  }

  /**
   * The SQL that {@link migrate} runs: hand it to your migration tool instead
   * if you manage the schema yourself.
   *
   * @example
   * ```ts
   * await fs.writeFile("migrations/001_digime_tokens.sql", store.migrationSql());
   * ```
   */
  migrationSql(): string {
    return tokenTablesSql(this.#schema, this.#tableName);
  }

  /**
   * Creates the token and lease tables (and the schema) if they do not exist.
   * Safe to call from every process at start-up.
   *
   * @example
   * ```ts
   * await store.migrate();
   * ```
   */
  async migrate(): Promise<void> {
    await guarded("PostgresTokenStore.migrate", () => this.#pool.query(this.migrationSql()));
  }

  /**
   * The credentials for `key`, or `undefined`. One query.
   *
   * @example
   * ```ts
   * const record = await store.get({ userId: "alice", contractId: "c1" });
   * ```
   */
  async get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    const parsedKey = parseCredentialsKey(key);
    return this.#read(parsedKey, "PostgresTokenStore.get");
  }

  /**
   * Compare-and-set on `version` in one statement; a conflict reads the
   * current record with a second query.
   *
   * @example
   * ```ts
   * const result = await store.set(key, { userAccessToken }, { expectedVersion: record.version });
   * ```
   */
  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    const parsedKey = parseCredentialsKey(key);
    const parsedCredentials = parseCredentials(credentials);
    const { expectedVersion } = parseSetOptions(options);
    const json = JSON.stringify(parsedCredentials);
    const sql =
      expectedVersion === null
        ? `INSERT INTO ${this.#table} (user_id, contract_id, credentials, version, updated_at)
           VALUES ($1, $2, $3::jsonb, 1, ${SERVER_NOW_MS})
           ON CONFLICT (user_id, contract_id) DO NOTHING
           RETURNING ${RECORD_COLUMNS}`
        : // GREATEST: updatedAt never goes backwards, even if the server's clock does.
          `UPDATE ${this.#table}
           SET credentials = $3::jsonb, version = version + 1, updated_at = GREATEST(updated_at, ${SERVER_NOW_MS})
           WHERE user_id = $1 AND contract_id = $2 AND version = $4
           RETURNING ${RECORD_COLUMNS}`;
    const params = [parsedKey.userId, parsedKey.contractId, json, ...(expectedVersion === null ? [] : [expectedVersion])];
    const result = await this.#calls.run(
      "PostgresTokenStore.set",
      () => this.#pool.query<TokenRow>(sql, params),
      credentialSecrets(parsedCredentials),
    );
    const row = result.rows[0];
    if (row !== undefined) return { status: "stored", record: this.#decode(parsedKey, row) };
    // A new statement sees what the winner committed, which the failed one's snapshot may not have.
    return { status: "conflict", current: await this.#read(parsedKey, "PostgresTokenStore.set") };
  }

  /**
   * Removes the credentials for `key`; `true` if there were any.
   *
   * @example
   * ```ts
   * await store.delete({ userId: "alice", contractId: "c1" });
   * ```
   */
  async delete(key: CredentialsKey): Promise<boolean> {
    const { userId, contractId } = parseCredentialsKey(key);
    const result = await this.#calls.run("PostgresTokenStore.delete", () =>
      this.#pool.query(`DELETE FROM ${this.#table} WHERE user_id = $1 AND contract_id = $2`, [userId, contractId]),
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Every record of `userId`, one per contract (one query on the primary key's prefix).
   *
   * @example
   * ```ts
   * const records = await store.listByUser("alice");
   * ```
   */
  async listByUser(userId: string): Promise<StoredCredentials[]> {
    const id = parseUserId(userId);
    const result = await this.#calls.run("PostgresTokenStore.listByUser", () =>
      this.#pool.query<TokenRow & { contract_id: string }>(
        `SELECT contract_id, ${RECORD_COLUMNS} FROM ${this.#table} WHERE user_id = $1 ORDER BY contract_id`,
        [id],
      ),
    );
    return result.rows.map((row) => this.#decode({ userId: id, contractId: row.contract_id }, row));
  }

  /**
   * Takes the refresh lease of `key`: inserts the lease row, or takes over an
   * expired one, in one statement; `false` while an unexpired lease is held.
   *
   * @example
   * ```ts
   * if (await store.acquireRefreshLease(key, { owner: randomUUID(), ttlMs: 10_000 })) console.log("refreshing");
   * ```
   */
  /**
   * The contract's records whose refresh token expires before
   * `options.refreshTokenExpiresBefore`, soonest first (token upkeep): one
   * query over an index on the contract and the refresh token's expiry
   * (created by `migrate()`).
   *
   * @example
   * ```ts
   * const soon = await store.listExpiring("c1", { refreshTokenExpiresBefore: Date.now() + 86_400_000, limit: 100 });
   * ```
   */
  async listExpiring(contractId: string, options: ListExpiringOptions): Promise<StoredCredentials[]> {
    const parsed = parseListExpiring(contractId, options);
    const { refreshTokenExpiresBefore, limit, after } = parsed.options;
    // Seconds, as stored; the user id (byte order, as everywhere in the library) breaks ties of equal expiry.
    const params: unknown[] = [parsed.contractId, refreshTokenExpiresBefore / 1000, limit];
    let cursor = "";
    if (after !== undefined) {
      params.push(after.refreshTokenExpiresAt / 1000, after.userId);
      cursor = `AND (${REFRESH_EXPIRY_SQL}, user_id COLLATE "C") > ($4::double precision, $5::text COLLATE "C")`;
    }
    const result = await this.#calls.run("PostgresTokenStore.listExpiring", () =>
      this.#pool.query<TokenRow & { user_id: string }>(
        `SELECT user_id, ${RECORD_COLUMNS} FROM ${this.#table}
         WHERE contract_id = $1 AND ${REFRESH_EXPIRY_SQL} < $2::double precision ${cursor}
         ORDER BY ${REFRESH_EXPIRY_SQL}, user_id COLLATE "C" LIMIT $3`,
        params,
      ),
    );
    return result.rows.map((row) => this.#decode({ userId: row.user_id, contractId: parsed.contractId }, row));
  }

  async acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const { userId, contractId } = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    const result = await this.#calls.run("PostgresTokenStore.acquireRefreshLease", () =>
      this.#pool.query(
        `INSERT INTO ${this.#leases} AS lease (user_id, contract_id, owner, expires_at)
         VALUES ($1, $2, $3, clock_timestamp() + $4::integer * interval '1 millisecond')
         ON CONFLICT (user_id, contract_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE lease.expires_at <= clock_timestamp()`,
        [userId, contractId, owner, ttlMs],
      ),
    );
    return result.rowCount === 1;
  }

  /**
   * Extends `owner`'s unexpired refresh lease of `key` to `options.ttlMs`
   * from now (the server's clock), in one statement; `false` once it is not `owner`'s.
   *
   * @example
   * ```ts
   * const stillMine = await store.renewRefreshLease(key, { owner, ttlMs: 3_000 });
   * ```
   */
  async renewRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    const { userId, contractId } = parseCredentialsKey(key);
    const { owner, ttlMs } = parseLeaseOptions(options);
    const result = await this.#calls.run("PostgresTokenStore.renewRefreshLease", () =>
      this.#pool.query(
        `UPDATE ${this.#leases} SET expires_at = clock_timestamp() + $4::integer * interval '1 millisecond'
         WHERE user_id = $1 AND contract_id = $2 AND owner = $3 AND expires_at > clock_timestamp()`,
        [userId, contractId, owner, ttlMs],
      ),
    );
    return result.rowCount === 1;
  }

  /**
   * Releases the refresh lease of `key` if `owner` still holds it.
   *
   * @example
   * ```ts
   * await store.releaseRefreshLease(key, owner);
   * ```
   */
  async releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void> {
    const { userId, contractId } = parseCredentialsKey(key);
    const parsedOwner = parseLeaseOwner(owner);
    await this.#calls.run("PostgresTokenStore.releaseRefreshLease", () =>
      this.#pool.query(`DELETE FROM ${this.#leases} WHERE user_id = $1 AND contract_id = $2 AND owner = $3`, [userId, contractId, parsedOwner]),
    );
  }

  /** Shows the table only: `util.inspect` must never print a token or the pool's credentials. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `PostgresTokenStore { table: ${JSON.stringify(this.#table)} }`;
  }

  async #read(key: CredentialsKey, operation: string): Promise<StoredCredentials | undefined> {
    const result = await this.#calls.run(operation, () =>
      this.#pool.query<TokenRow>(`SELECT ${RECORD_COLUMNS} FROM ${this.#table} WHERE user_id = $1 AND contract_id = $2`, [
        key.userId,
        key.contractId,
      ]),
    );
    const row = result.rows[0];
    return row === undefined ? undefined : this.#decode(key, row);
  }

  #decode(key: CredentialsKey, row: TokenRow): StoredCredentials {
    const credentials = credentialsSchema.safeParse(row.credentials);
    const version = storedCredentialsSchema.shape.version.safeParse(row.version);
    const updatedAt = Number(row.updated_at); // bigint arrives as a string
    if (!credentials.success || !version.success || !Number.isFinite(updatedAt)) {
      // The row is left as it is: nothing is lost, and the message names no value.
      throw new TokenStoreError(`PostgresTokenStore: a row of ${this.#table} is not a valid token record`);
    }
    return buildStoredCredentials(key, credentials.data as Credentials, version.data, updatedAt);
  }
}
