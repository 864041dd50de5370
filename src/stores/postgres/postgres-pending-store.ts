/**
 * A {@link PendingAuthorizationStore} in PostgreSQL: any server can complete
 * an authorization another server began, and a state is taken once across
 * all. One row per state: the bundle until it is consumed (then NULL) and a
 * time (`until_ms`): the bundle's expiry while pending, used-until after.
 */
import type { Pool } from "pg";
import { TokenStoreError } from "../../errors.js";
import { authorizationBundleSchema, type AuthorizationBundle } from "../../authorization/bundle.js";
import type { ConsumeResult, PendingAuthorizationStore } from "../pending-store.js";
import { parseBundle, parseConsumeArguments } from "../pending-arguments.js";
import { parseStoreOptions } from "../parse-options.js";
import { DEFAULT_CALL_TIMEOUT_MS, guarded, StoreCalls } from "../store-failure.js";
import { handlePoolErrors, postgresOptionsSchema, qualifiedName, SERVER_NOW_MS, type PostgresStoreOptions } from "./options.js";
import { pendingTableSql } from "./schema.js";

/**
 * Options of {@link PostgresPendingAuthorizationStore}.
 *
 * @example
 * ```ts
 * const pending = new PostgresPendingAuthorizationStore({ pool, table: "digime_pending" } satisfies PostgresPendingAuthorizationStoreOptions);
 * ```
 */
export interface PostgresPendingAuthorizationStoreOptions extends PostgresStoreOptions {
  /**
   * Table of the pending authorizations.
   * @defaultValue `"digime_pending_authorizations"`
   */
  readonly table?: string | undefined;
}

/** Expired rows removed per `save`: enough to keep up with any sign-up rate, small enough to stay cheap. */
const SWEEP_BATCH = 100;

interface ConsumedRow {
  bundle: unknown;
  until_ms: string | number;
  now_ms: string | number;
}

/**
 * Pending authorizations in PostgreSQL, one-time use across every process.
 *
 * A pending bundle holds the PKCE code verifier: its row keeps it until the
 * callback consumes it (the column is cleared then) or, unconsumed, until
 * the bundle has expired and a later `save` sweeps the row. Expired rows are
 * removed a batch at a time by `save`, so the table follows the
 * authorizations in flight.
 *
 * @example
 * ```ts
 * import { PostgresPendingAuthorizationStore } from "digime-write-pipeline/postgres";
 *
 * const pendingAuthorizations = new PostgresPendingAuthorizationStore({ pool });
 * await pendingAuthorizations.migrate();
 * const client = new WriteClient({ ...options, pendingAuthorizations });
 * ```
 */
export class PostgresPendingAuthorizationStore implements PendingAuthorizationStore {
  readonly #pool: Pool;
  readonly #calls: StoreCalls;
  readonly #schema: string | undefined;
  readonly #tableName: string;
  readonly #table: string;

  constructor(options: PostgresPendingAuthorizationStoreOptions) {
    const parsed = parseStoreOptions(postgresOptionsSchema, options, "PostgresPendingAuthorizationStore");
    this.#pool = parsed.pool;
    handlePoolErrors(parsed.pool);
    this.#calls = new StoreCalls(parsed.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    this.#schema = parsed.schema;
    this.#tableName = parsed.table ?? "digime_pending_authorizations";
    this.#table = qualifiedName(this.#schema, this.#tableName);
  }

  /**
   * The SQL that {@link migrate} runs, for your own migration tool.
   *
   * @example
   * ```ts
   * console.log(pending.migrationSql());
   * ```
   */
  migrationSql(): string {
    return pendingTableSql(this.#schema, this.#tableName);
  }

  /**
   * Creates the table (and the schema) if missing. Safe to call from every process.
   *
   * @example
   * ```ts
   * await pending.migrate();
   * ```
   */
  async migrate(): Promise<void> {
    await guarded("PostgresPendingAuthorizationStore.migrate", () => this.#pool.query(this.migrationSql()));
  }

  /**
   * Keeps `bundle` until it is consumed or expires, and sweeps a batch of
   * expired rows in the same statement. A state that exists is refused.
   *
   * @throws {@link digime-write-pipeline!TokenStoreError} when the state exists or the database fails.
   * @example
   * ```ts
   * await pending.save(bundle);
   * ```
   */
  async save(bundle: AuthorizationBundle): Promise<void> {
    const parsed = parseBundle(bundle);
    const result = await this.#calls.run(
      "PostgresPendingAuthorizationStore.save",
      () =>
        this.#pool.query(
          // SKIP LOCKED: a row being consumed right now is left to the next sweep.
          `WITH sweep AS (
             DELETE FROM ${this.#table} WHERE state IN (
               SELECT state FROM ${this.#table} WHERE until_ms < ${SERVER_NOW_MS} AND state <> $1
               LIMIT ${SWEEP_BATCH} FOR UPDATE SKIP LOCKED))
           INSERT INTO ${this.#table} (state, bundle, until_ms) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (state) DO NOTHING`,
          [parsed.state, JSON.stringify(parsed), parsed.expiresAt],
        ),
      [parsed.codeVerifier],
    );
    if (result.rowCount !== 1) throw new TokenStoreError("PostgresPendingAuthorizationStore.save: a pending authorization with this state already exists");
  }

  /**
   * Takes the bundle saved under `state`, clears it from its row and marks
   * the state used until `usedUntil`, in one statement: of any number of
   * concurrent calls, from any process, exactly one gets `found`. A state
   * never saved is remembered as used too (one more statement).
   *
   * @example
   * ```ts
   * const result = await pending.consume(state, Date.now() + 600_000);
   * if (result.status === "found") console.log(result.bundle.userId);
   * ```
   */
  async consume(state: string, usedUntil: number): Promise<ConsumeResult> {
    const { state: parsedState, usedUntil: until } = parseConsumeArguments(state, usedUntil);
    const taken = await this.#calls.run("PostgresPendingAuthorizationStore.consume", () =>
      // The locked self-join returns the row as it was before this update; a
      // concurrent consume waits for the lock and then sees the cleared bundle.
      this.#pool.query<ConsumedRow>(
        `UPDATE ${this.#table} AS pending SET bundle = NULL, until_ms = GREATEST(pending.until_ms, $2)
         FROM (SELECT state, bundle, until_ms FROM ${this.#table} WHERE state = $1 FOR UPDATE) AS before
         WHERE pending.state = before.state
         RETURNING before.bundle, before.until_ms, ${SERVER_NOW_MS} AS now_ms`,
        [parsedState, until],
      ),
    );
    const row = taken.rows[0];
    if (row === undefined) {
      await this.#calls.run("PostgresPendingAuthorizationStore.consume", () =>
        this.#pool.query(`INSERT INTO ${this.#table} (state, bundle, until_ms) VALUES ($1, NULL, $2) ON CONFLICT (state) DO NOTHING`, [
          parsedState,
          until,
        ]),
      );
      return { status: "unknown" };
    }
    if (row.bundle !== null) return { status: "found", bundle: this.#decode(row.bundle) };
    // A used marker past its time counts as never seen, as in the memory store.
    return Number(row.until_ms) > Number(row.now_ms) ? { status: "used" } : { status: "unknown" };
  }

  /** Shows the table only: never a state or a code verifier. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `PostgresPendingAuthorizationStore { table: ${JSON.stringify(this.#table)} }`;
  }

  #decode(bundle: unknown): AuthorizationBundle {
    const parsed = authorizationBundleSchema.safeParse(bundle);
    if (!parsed.success) throw new TokenStoreError(`PostgresPendingAuthorizationStore: a row of ${this.#table} holds no valid authorization bundle`);
    return parsed.data as AuthorizationBundle;
  }
}
