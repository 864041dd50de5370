/**
 * PostgresTokenStore and PostgresPendingAuthorizationStore against a real
 * PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 * The run works in a schema of its own, dropped at the end; every store gets
 * a table of its own in it.
 */
import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStoreError, ValidationError } from "../../src/errors.js";
import { PostgresPendingAuthorizationStore, PostgresTokenStore } from "../../src/postgres.js";
import { createSandbox } from "../../src/testing/index.js";
import { pendingStoreContract } from "../../src/testing/pending-store-contract.js";
import { tokenStoreContract } from "../../src/testing/token-store-contract.js";
import { WriteClient } from "../../src/write-client.js";
import { DATABASE_URL, postgresAvailable, uniqueSuffix } from "../support/servers.js";
import { jsonFile, REDIRECT_URI } from "../support/setup.js";
import { everythingShown, pendingBundle as bundle, rejectedOptionPaths, rejectionOf, secretToken as token } from "../support/store-fixtures.js";

const available = await postgresAvailable("PostgreSQL stores");
const SCHEMA = `digime_test_${uniqueSuffix()}`;
let tableCounter = 0;
let pool: pg.Pool;
const extraPools: pg.Pool[] = [];

/** A pool of its own, as another process would have. */
function anotherPool(): pg.Pool {
  const other = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  extraPools.push(other);
  return other;
}

function freshTable(): string {
  tableCounter += 1;
  return `t${tableCounter}`;
}

async function tokenStore(table = freshTable(), on: pg.Pool = pool): Promise<PostgresTokenStore> {
  const store = new PostgresTokenStore({ pool: on, schema: SCHEMA, table });
  await store.migrate();
  return store;
}

async function pendingStore(table = freshTable(), on: pg.Pool = pool): Promise<PostgresPendingAuthorizationStore> {
  const store = new PostgresPendingAuthorizationStore({ pool: on, schema: SCHEMA, table });
  await store.migrate();
  return store;
}

describe("the PostgreSQL stores' documented SQL", () => {
  it("is what migrate() runs (apart from its advisory lock)", async () => {
    const offline = { query: () => undefined } as unknown as pg.Pool; // migrationSql() needs no connection
    const withoutLock = (sql: string): string => sql.replace(/^SELECT pg_advisory_xact_lock\(\d+\);\n/, "");
    const docs = new URL("../../docs/", import.meta.url);
    const guides = `${await readFile(new URL("token-stores.md", docs), "utf8")}\n${await readFile(new URL("authorization.md", docs), "utf8")}`;
    expect(guides).toContain(withoutLock(new PostgresTokenStore({ pool: offline }).migrationSql()));
    expect(guides).toContain(withoutLock(new PostgresPendingAuthorizationStore({ pool: offline }).migrationSql()));
  });
});

describe.skipIf(!available)("PostgreSQL stores (PostgreSQL at DATABASE_URL)", () => {
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
  });

  afterAll(async () => {
    if (pool === undefined) return;
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await Promise.all([pool, ...extraPools].map((p) => p.end()));
  });

  describe("PostgresTokenStore", () => {
    describe("tokenStoreContract with leases", () => {
      for (const c of tokenStoreContract(() => tokenStore(), { leases: true, listExpiring: true })) it(c.name, c.run);
    });

    it("keeps the process alive when the server ends an idle pooled connection, and answers again on a new one", async () => {
      const own = anotherPool(); // no 'error' listener of its own, as in the docs' examples
      const store = await tokenStore(freshTable(), own);
      await pendingStore(freshTable(), own);
      expect(own.listenerCount("error")).toBe(1); // the stores' one, however many stores share the pool
      const key = { userId: "alice", contractId: "contract-1" };
      await store.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
      const { rows } = await own.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      // pg-pool emits 'remove' after 'error' for a client whose idle connection failed.
      const dropped = new Promise((resolve) => own.once("remove", resolve));
      await pool.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
      // Without the store's listener, this 'error' event on the pool would have crashed the test process.
      await dropped;
      expect((await store.get(key))?.version).toBe(1);
    });

    it("shares records and leases between stores on separate pools", async () => {
      const table = freshTable();
      const a = await tokenStore(table);
      const b = await tokenStore(table, anotherPool());
      const key = { userId: "alice", contractId: "contract-1" };
      const created = await a.set(key, { userAccessToken: token("1") }, { expectedVersion: null });
      expect(await b.get(key)).toEqual(created.status === "stored" ? created.record : undefined);
      expect(await a.acquireRefreshLease(key, { owner: "process-a", ttlMs: 60_000 })).toBe(true);
      expect(await b.acquireRefreshLease(key, { owner: "process-b", ttlMs: 60_000 })).toBe(false);
      expect((await b.set(key, { userAccessToken: token("stale") }, { expectedVersion: null })).status).toBe("conflict");
    });

    it("answers each operation with one query, and a conflicting set with two", async () => {
      const table = freshTable();
      await tokenStore(table);
      let queries = 0;
      const counting = new Proxy(pool, {
        get(target, property, receiver) {
          if (property !== "query") return Reflect.get(target, property, receiver);
          return (...args: Parameters<pg.Pool["query"]>) => {
            queries += 1;
            return (target.query as (...a: unknown[]) => unknown)(...args);
          };
        },
      });
      const counted = new PostgresTokenStore({ pool: counting, schema: SCHEMA, table });
      const key = { userId: "alice", contractId: "contract-1" };
      const perOperation: Record<string, number> = {};
      const measure = async (name: string, action: () => Promise<unknown>): Promise<void> => {
        queries = 0;
        await action();
        perOperation[name] = queries;
      };
      await measure("set (create)", () => counted.set(key, { userAccessToken: token("1") }, { expectedVersion: null }));
      await measure("get", () => counted.get(key));
      await measure("set", () => counted.set(key, { userAccessToken: token("2") }, { expectedVersion: 1 }));
      await measure("set (conflict)", () => counted.set(key, { userAccessToken: token("3") }, { expectedVersion: 1 }));
      await measure("listByUser", () => counted.listByUser("alice"));
      await measure("acquireRefreshLease", () => counted.acquireRefreshLease(key, { owner: "o", ttlMs: 1_000 }));
      await measure("releaseRefreshLease", () => counted.releaseRefreshLease(key, "o"));
      await measure("delete", () => counted.delete(key));
      expect(perOperation).toEqual({
        "set (create)": 1,
        get: 1,
        set: 1,
        "set (conflict)": 2,
        listByUser: 1,
        acquireRefreshLease: 1,
        releaseRefreshLease: 1,
        delete: 1,
      });
    });

    it("migrates concurrently from several processes, and again, without error", async () => {
      const table = freshTable();
      const stores = [pool, anotherPool(), anotherPool()].map((p) => new PostgresTokenStore({ pool: p, schema: SCHEMA, table }));
      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0]!.migrate();
      const created = await stores[1]!.set({ userId: "u", contractId: "c" }, { userAccessToken: token("m") }, { expectedVersion: null });
      expect(created.status).toBe("stored");
    });

    it("rejects bad options with INVALID_OPTIONS naming the field", () => {
      const attempts: Array<[unknown, string]> = [
        [{}, "options.pool"],
        [{ pool: {} }, "options.pool"],
        [{ pool, table: "Tokens" }, "options.table"],
        [{ pool, table: 'tokens"; DROP TABLE users; --' }, "options.table"],
        [{ pool, table: "x".repeat(49) }, "options.table"],
        [{ pool, schema: "my-schema" }, "options.schema"],
        [{ pool, tableName: "tokens" }, "options.tableName"],
      ];
      for (const [options, field] of attempts) {
        expect(rejectedOptionPaths(() => new PostgresTokenStore(options as never))).toContain(field);
        expect(rejectedOptionPaths(() => new PostgresPendingAuthorizationStore(options as never))).toContain(field);
      }
    });

    it("rejects a bad key with INVALID_ARGUMENT naming the field, before reaching the database", async () => {
      const store = new PostgresTokenStore({ pool, schema: SCHEMA, table: "never_created" });
      const error = await rejectionOf(store.get({ userId: "alice", contractId: "" }));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toContain("key.contractId");
    });

    it("shows neither tokens nor the pool's password in util.inspect", async () => {
      const store = await tokenStore();
      const userAccessToken = token("inspect");
      await store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null });
      const withPassword = new PostgresTokenStore({ pool: new pg.Pool({ connectionString: "postgres://u:pool-password-secret@127.0.0.1:1/x" }) });
      for (const shown of [inspect(store, { depth: 10, showHidden: true }), inspect(withPassword, { depth: 10, showHidden: true })]) {
        expect(shown).not.toContain(userAccessToken.accessToken.value);
        expect(shown).not.toContain("pool-password-secret");
      }
    });

    it("wraps a database error in TokenStoreError without its detail (which quotes the token)", async () => {
      const table = freshTable();
      const store = await tokenStore(table);
      // An index a user might add; a duplicate's error detail quotes the whole indexed value.
      await pool.query(`CREATE UNIQUE INDEX ${table}_refresh ON "${SCHEMA}"."${table}" ((credentials -> 'userAccessToken' -> 'refreshToken' ->> 'value'))`);
      const userAccessToken = token("leak");
      await store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null });
      const raw = await rejectionOf(
        pool.query(`INSERT INTO "${SCHEMA}"."${table}" VALUES ('carol', 'c', $1::jsonb, 1, 0)`, [JSON.stringify({ userAccessToken })]),
      );
      expect(everythingShown(raw)).toContain(userAccessToken.refreshToken.value); // what the driver's error holds
      const error = await rejectionOf(store.set({ userId: "bob", contractId: "c" }, { userAccessToken }, { expectedVersion: null }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as TokenStoreError).message).toContain("duplicate key");
      const shown = everythingShown(error);
      expect(shown).not.toContain(userAccessToken.accessToken.value);
      expect(shown).not.toContain(userAccessToken.refreshToken.value);
    });

    it("wraps a connection failure in a retryable TokenStoreError that carries no token", async () => {
      const unreachable = new pg.Pool({ host: "127.0.0.1", port: 1, user: "u", database: "x", connectionTimeoutMillis: 2_000 });
      const store = new PostgresTokenStore({ pool: unreachable });
      const userAccessToken = token("down");
      const error = await rejectionOf(store.set({ userId: "alice", contractId: "c" }, { userAccessToken }, { expectedVersion: null }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect((error as TokenStoreError).retryable).toBe(true);
      const shown = everythingShown(error);
      expect(shown).not.toContain(userAccessToken.accessToken.value);
      expect(shown).not.toContain(userAccessToken.refreshToken.value);
      await unreachable.end();
    });

    it("reports a row that is not a token record as TokenStoreError, naming no value", async () => {
      const table = freshTable();
      const store = await tokenStore(table);
      await pool.query(`INSERT INTO "${SCHEMA}"."${table}" VALUES ('alice', 'c', '{"userAccessToken":"garbage-secret"}', 1, 0)`);
      const error = await rejectionOf(store.get({ userId: "alice", contractId: "c" }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain("garbage-secret");
    });
  });

  describe("PostgresPendingAuthorizationStore", () => {
    describe("pendingStoreContract", () => {
      for (const c of pendingStoreContract(() => pendingStore())) it(c.name, c.run);
    });

    it("clears the code verifier from its row when the bundle is consumed", async () => {
      const table = freshTable();
      const store = await pendingStore(table);
      const saved = bundle();
      await store.save(saved);
      await store.consume(saved.state, saved.expiresAt);
      const { rows } = await pool.query(`SELECT bundle::text AS bundle FROM "${SCHEMA}"."${table}"`);
      expect(rows).toEqual([{ bundle: null }]);
    });

    it("sweeps expired rows when a new authorization is saved", async () => {
      const table = freshTable();
      const store = await pendingStore(table);
      const expired = bundle({ expiresAt: Date.now() - 60_000 });
      await store.save(expired);
      await store.consume("state-never-saved-0002", Date.now() - 60_000);
      const live = bundle();
      await store.save(live);
      const { rows } = await pool.query<{ state: string }>(`SELECT state FROM "${SCHEMA}"."${table}"`);
      expect(rows.map((row) => row.state)).toEqual([live.state]);
    });

    it("refuses to save over a state that exists", async () => {
      const store = await pendingStore();
      const saved = bundle();
      await store.save(saved);
      const error = await rejectionOf(store.save({ ...saved, codeVerifier: "other-verifier-value" }));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain(saved.codeVerifier);
      expect(await store.consume(saved.state, saved.expiresAt)).toEqual({ status: "found", bundle: saved });
    });

    it("gives a state to exactly one of two stores on separate pools consuming it at once", async () => {
      const table = freshTable();
      const a = await pendingStore(table);
      const b = await pendingStore(table, anotherPool());
      const bundles = Array.from({ length: 25 }, () => bundle());
      for (const saved of bundles) await a.save(saved);
      for (const saved of bundles) {
        const results = await Promise.all([a.consume(saved.state, saved.expiresAt), b.consume(saved.state, saved.expiresAt)]);
        expect(results.map((r) => r.status).sort()).toEqual(["found", "used"]);
      }
    });

    it("shows no code verifier in util.inspect or in a failure", async () => {
      const store = await pendingStore();
      const saved = bundle();
      await store.save(saved);
      expect(inspect(store, { depth: 10, showHidden: true })).not.toContain(saved.codeVerifier);
      const unreachable = new pg.Pool({ host: "127.0.0.1", port: 1, user: "u", database: "x", connectionTimeoutMillis: 2_000 });
      const error = await rejectionOf(new PostgresPendingAuthorizationStore({ pool: unreachable }).save(saved));
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(everythingShown(error)).not.toContain(saved.codeVerifier);
      await unreachable.end();
    });

    it("rejects a bad state or usedUntil with INVALID_ARGUMENT naming it", async () => {
      const store = await pendingStore();
      const noState = await rejectionOf(store.consume("", Date.now()));
      expect((noState as ValidationError).code).toBe("INVALID_ARGUMENT");
      expect((noState as ValidationError).message).toContain("state");
      const noTime = await rejectionOf(store.consume("some-state-value-123", -5));
      expect((noTime as ValidationError).message).toContain("usedUntil");
    });

    it("lets one server begin an authorization and another complete it and write", async () => {
      const sandbox = createSandbox();
      const tokens = freshTable();
      const pending = freshTable();
      const makeClient = async (on: pg.Pool): Promise<WriteClient> =>
        new WriteClient({
          sdk: sandbox.sdk("v16"),
          contractDetails: sandbox.contractDetails,
          redirectUri: REDIRECT_URI,
          tokenStore: await tokenStore(tokens, on),
          pendingAuthorizations: await pendingStore(pending, on),
        });
      const first = await makeClient(pool);
      const second = await makeClient(anotherPool());
      const { url } = await first.beginAuthorization({ userId: "alice" });
      const callback = await sandbox.consent(url);
      // No sealed bundle: the second server finds the verifier in PostgreSQL.
      await second.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "alice" });
      const receipt = await first.write("alice", jsonFile(1));
      expect(receipt.status).toBe("delivered");
      await expect(second.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "alice" })).rejects.toMatchObject({ code: "STATE_REPLAYED" });
      await Promise.all([first.close(), second.close()]);
    });
  });
});
