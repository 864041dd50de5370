/**
 * The behaviour every {@link TokenStore} must show, as a list of test cases
 * that any test runner can run. The built-in stores pass it; run it against
 * your own store (a database, Redis, a secrets manager) before using it.
 * @module
 */
import assert from "node:assert/strict";
import { sleep } from "../internal/sleep.js";
import type { UserAccessToken } from "../sdk/types.js";
import type { Credentials, CredentialsKey, ExpiringTokens, RefreshLeases, SetResult, StoredCredentials, TokenStore } from "../stores/token-store.js";

/**
 * One case of the contract suite: a name for your test runner and a `run`
 * that rejects with a descriptive `Error` when the store misbehaves.
 *
 * @example
 * ```ts
 * const [first] = tokenStoreContract(() => new MemoryTokenStore());
 * await first.run(); // throws if the store breaks the contract
 * ```
 */
export interface TokenStoreContractCase {
  /** What the case proves, phrased as a test name. */
  readonly name: string;
  /** Runs the case against a fresh store; rejects on the first violation. */
  run(): Promise<void>;
}

/**
 * The contract suite for a {@link TokenStore}: one case per rule. Each case
 * calls `createStore` once, so every case starts from an empty store; make
 * the factory return a fresh, empty store (a new table, a new file) each time.
 *
 * The suite is framework-agnostic: a case's `run` rejects with an `Error`
 * (an `AssertionError` from `node:assert`) describing the violation.
 *
 * @param createStore Makes a fresh, empty store for one case.
 * @param options `now`: the clock your store uses for `updatedAt` (epoch
 *   milliseconds). When given, every `updatedAt` must lie between this
 *   clock's readings just before and just after the `set`. Leave it out when
 *   the store uses a clock the test cannot read (a database server's): then
 *   `updatedAt` need only be a finite number that never goes backwards.
 *   `leases`: `true` when the store offers refresh leases
 *   ({@link RefreshLeases}), as a store shared by several processes should;
 *   the lease rules are then checked too (they wait out a lease of 150 ms).
 *   `listExpiring`: `true` when the store offers token upkeep
 *   ({@link ExpiringTokens}); its rules are then checked too. A store that
 *   has the method is checked whether declared or not.
 * @returns The cases, in a stable order with unique names.
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * import { tokenStoreContract } from "digime-write-pipeline/testing";
 *
 * describe("MyStore", () => {
 *   for (const c of tokenStoreContract(() => new MyStore())) it(c.name, c.run);
 * });
 *
 * // With a controlled clock, updatedAt is checked against it:
 * let clock = 1_700_000_000_000;
 * const now = () => clock++;
 * for (const c of tokenStoreContract(() => new MemoryTokenStore({ now }), { now })) it(c.name, c.run);
 *
 * // A store shared by several processes also proves its refresh leases:
 * for (const c of tokenStoreContract(() => new MyRedisStore(), { leases: true })) it(c.name, c.run);
 * ```
 */
export function tokenStoreContract(
  createStore: () => TokenStore | Promise<TokenStore>,
  options: { readonly now?: (() => number) | undefined; readonly leases?: boolean | undefined; readonly listExpiring?: boolean | undefined } = {},
): TokenStoreContractCase[] {
  const clock = options.now;

  /** Runs `store.set` and checks `updatedAt` against the clock readings around it. */
  async function timedSet(
    store: TokenStore,
    key: CredentialsKey,
    credentials: Credentials,
    expectedVersion: number | null,
  ): Promise<SetResult> {
    const before = clock?.();
    const result = await store.set(key, credentials, { expectedVersion });
    const after = clock?.();
    if (result.status === "stored") {
      const { updatedAt } = result.record;
      assert.equal(typeof updatedAt, "number", "record.updatedAt must be a number");
      assert.ok(Number.isFinite(updatedAt), `record.updatedAt must be finite, got ${updatedAt}`);
      if (before !== undefined && after !== undefined) {
        assert.ok(
          updatedAt >= before && updatedAt <= after,
          `record.updatedAt (${updatedAt}) must come from the store's clock: between ${before} and ${after}`,
        );
      }
    }
    return result;
  }

  async function create(store: TokenStore, key: CredentialsKey, credentials: Credentials): Promise<StoredCredentials> {
    return expectStored(await timedSet(store, key, credentials, null), `creating ${describeKey(key)}`);
  }

  const cases: Array<[string, (store: TokenStore) => Promise<void>]> = [
    [
      "get of an unknown key resolves undefined",
      async (store) => {
        assert.equal(await store.get(KEY), undefined, "get of a key never set must resolve undefined");
        assert.deepEqual(await store.listByUser(KEY.userId), [], "listByUser of an unknown user must resolve []");
      },
    ],
    [
      "set with expectedVersion null creates version 1 holding the credentials",
      async (store) => {
        const record = await create(store, KEY, { userAccessToken: token("a1") });
        assertRecord(record, KEY, { userAccessToken: token("a1") }, 1, "the created record");
        assertRecord(await store.get(KEY), KEY, { userAccessToken: token("a1") }, 1, "get after create");
        assert.deepEqual(await store.get(KEY), record, "get must return what set reported as stored");
      },
    ],
    [
      "a second create with expectedVersion null conflicts and returns the current record",
      async (store) => {
        const first = await create(store, KEY, { userAccessToken: token("a1") });
        const second = await timedSet(store, KEY, { userAccessToken: token("a2") }, null);
        const current = expectConflict(second, "second create with expectedVersion null");
        assert.deepEqual(current, first, "the conflict must carry the record that is stored");
        assert.deepEqual(await store.get(KEY), first, "a conflicting set must leave the record untouched");
      },
    ],
    [
      "set with the current version stores and increments the version by one",
      async (store) => {
        const v1 = await create(store, KEY, { userAccessToken: token("a1") });
        const v2 = expectStored(await timedSet(store, KEY, { userAccessToken: token("a2") }, v1.version), "set at v1");
        assertRecord(v2, KEY, { userAccessToken: token("a2") }, 2, "the record after one update");
        const v3 = expectStored(await timedSet(store, KEY, { userAccessToken: token("a3") }, 2), "set at v2");
        assertRecord(v3, KEY, { userAccessToken: token("a3") }, 3, "the record after two updates");
        assert.deepEqual(await store.get(KEY), v3, "get must return the newest record");
        assert.ok(v3.updatedAt >= v1.updatedAt, "updatedAt must not go backwards across versions");
      },
    ],
    [
      "set with a stale version conflicts and leaves the record untouched",
      async (store) => {
        const v1 = await create(store, KEY, { userAccessToken: token("a1") });
        const v2 = expectStored(await timedSet(store, KEY, { userAccessToken: token("a2") }, v1.version), "set at v1");
        const stale = await timedSet(store, KEY, { userAccessToken: token("stale") }, v1.version);
        assert.deepEqual(expectConflict(stale, "set with stale version 1"), v2, "the conflict must carry version 2");
        const ahead = await timedSet(store, KEY, { userAccessToken: token("ahead") }, 7);
        assert.deepEqual(expectConflict(ahead, "set with a version never stored"), v2, "the conflict must carry version 2");
        assert.deepEqual(await store.get(KEY), v2, "conflicting sets must leave the record untouched");
      },
    ],
    [
      "a record marked refreshTokenRefused reads back with the mark, and a later set without it clears it",
      async (store) => {
        const created = expectStored(await store.set(KEY, { userAccessToken: token("r1") }, { expectedVersion: null }), "create");
        const marked = expectStored(await store.set(KEY, { userAccessToken: token("r1"), refreshTokenRefused: true }, { expectedVersion: created.version }), "mark");
        assert.equal((await store.get(KEY))?.refreshTokenRefused, true, "get must return refreshTokenRefused (the library records digi.me's refusals with it)");
        assert.equal((await store.listByUser(KEY.userId))[0]?.refreshTokenRefused, true, "listByUser must return refreshTokenRefused");
        expectStored(await store.set(KEY, { userAccessToken: token("r2") }, { expectedVersion: marked.version }), "replace");
        assert.equal((await store.get(KEY))?.refreshTokenRefused, undefined, "a set without the mark must clear it");
      },
    ],
    [
      "set with a version when nothing is stored conflicts with current undefined",
      async (store) => {
        const result = await timedSet(store, KEY, { userAccessToken: token("a1") }, 1);
        assert.equal(expectConflict(result, "set at version 1 of an absent key"), undefined, "current must be undefined");
        assert.equal(await store.get(KEY), undefined, "a conflicting set must not create the record");
      },
    ],
    [
      "of 10 concurrent creates with expectedVersion null exactly one wins",
      async (store) => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.set(KEY, { userAccessToken: token(`c${i}`) }, { expectedVersion: null })),
        );
        const winners = results.filter((r) => r.status === "stored");
        assert.equal(winners.length, 1, `exactly one concurrent create must win, ${winners.length} did`);
        const winner = expectStored(winners[0]!, "the winning create");
        assert.equal(winner.version, 1, "the winning create must be version 1");
        for (const result of results) {
          if (result.status === "conflict") {
            assert.equal(result.current?.version, 1, "every losing create must see version 1 as current");
          }
        }
        assert.deepEqual(await store.get(KEY), winner, "the stored record must be the winner's");
      },
    ],
    [
      "of 10 concurrent compare-and-sets from the same version exactly one wins",
      async (store) => {
        const v1 = await create(store, KEY, { userAccessToken: token("base") });
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.set(KEY, { userAccessToken: token(`r${i}`) }, { expectedVersion: v1.version }),
          ),
        );
        const winners = results.filter((r) => r.status === "stored");
        assert.equal(winners.length, 1, `exactly one concurrent compare-and-set must win, ${winners.length} did`);
        const winner = expectStored(winners[0]!, "the winning compare-and-set");
        assert.equal(winner.version, 2, "the winner must store version 2");
        for (const result of results) {
          if (result.status === "conflict") {
            assert.equal(result.current?.version, 2, "every loser must see version 2 as current");
          }
        }
        assert.deepEqual(await store.get(KEY), winner, "the stored record must be the winner's");
      },
    ],
    [
      "the same user under two contracts has two independent records",
      async (store) => {
        const c1 = { userId: "alice", contractId: "contract-1" };
        const c2 = { userId: "alice", contractId: "contract-2" };
        await create(store, c1, { userAccessToken: token("c1") });
        await create(store, c2, { userAccessToken: token("c2") });
        expectStored(await store.set(c1, { userAccessToken: token("c1b") }, { expectedVersion: 1 }), "update under contract-1");
        assertRecord(await store.get(c1), c1, { userAccessToken: token("c1b") }, 2, "record under contract-1");
        assertRecord(await store.get(c2), c2, { userAccessToken: token("c2") }, 1, "record under contract-2");
        assert.equal(await store.delete(c2), true, "delete under contract-2");
        assertRecord(await store.get(c1), c1, { userAccessToken: token("c1b") }, 2, "contract-1 after deleting contract-2");
      },
    ],
    [
      "two users under one contract have two independent records",
      async (store) => {
        const alice = { userId: "alice", contractId: "contract-1" };
        const bob = { userId: "bob", contractId: "contract-1" };
        await create(store, alice, { userAccessToken: token("alice") });
        assert.equal(await store.get(bob), undefined, "bob must have nothing after alice's create");
        await create(store, bob, { userAccessToken: token("bob") });
        expectStored(await store.set(bob, { userAccessToken: token("bob2") }, { expectedVersion: 1 }), "bob's update");
        assertRecord(await store.get(alice), alice, { userAccessToken: token("alice") }, 1, "alice's record");
        assertRecord(await store.get(bob), bob, { userAccessToken: token("bob2") }, 2, "bob's record");
        assert.equal(await store.delete(alice), true, "delete alice");
        assertRecord(await store.get(bob), bob, { userAccessToken: token("bob2") }, 2, "bob after deleting alice");
      },
    ],
    [
      "listByUser returns every contract's record of that user and nothing of others",
      async (store) => {
        const mine = ["c1", "c2", "c3"].map((contractId) => ({ userId: "alice", contractId }));
        for (const key of mine) await create(store, key, { userAccessToken: token(key.contractId) });
        await create(store, { userId: "bob", contractId: "c1" }, { userAccessToken: token("bob") });
        await create(store, { userId: "alice2", contractId: "c1" }, { userAccessToken: token("alice2") });
        const listed = await store.listByUser("alice");
        assert.deepEqual(
          listed.map((r) => r.contractId).sort(),
          ["c1", "c2", "c3"],
          "listByUser must return one record per contract of the user",
        );
        for (const record of listed) {
          assertRecord(record, { userId: "alice", contractId: record.contractId }, { userAccessToken: token(record.contractId) }, 1, `listed ${record.contractId}`);
          assert.deepEqual(record, await store.get(record), "a listed record must equal what get returns");
        }
        assert.deepEqual((await store.listByUser("bob")).map((r) => r.userId), ["bob"], "bob's list");
        assert.deepEqual(await store.listByUser("ali"), [], "a prefix of a user id must match nothing");
        await store.delete(mine[1]!);
        assert.deepEqual((await store.listByUser("alice")).map((r) => r.contractId).sort(), ["c1", "c3"], "list after a delete");
      },
    ],
    [
      "delete resolves true, then false, and the key can be created again",
      async (store) => {
        await create(store, KEY, { userAccessToken: token("a1") });
        assert.equal(await store.delete(KEY), true, "deleting a stored key must resolve true");
        assert.equal(await store.get(KEY), undefined, "get after delete must resolve undefined");
        assert.equal(await store.delete(KEY), false, "deleting it again must resolve false");
        assert.equal(await store.delete({ userId: "nobody", contractId: "none" }), false, "deleting an unknown key must resolve false");
        assert.deepEqual(await store.listByUser(KEY.userId), [], "listByUser after delete must be empty");
        const again = await create(store, KEY, { userAccessToken: token("a2") });
        assertRecord(again, KEY, { userAccessToken: token("a2") }, 1, "the record created after delete");
      },
    ],
    [
      "postboxId and publicKey round-trip, and set replaces the credentials as a whole",
      async (store) => {
        const full: Credentials = { userAccessToken: token("a1"), postboxId: "postbox-1", publicKey: PUBLIC_KEY };
        const v1 = await create(store, KEY, full);
        assertRecord(v1, KEY, full, 1, "the created record");
        assertRecord(await store.get(KEY), KEY, full, 1, "get");
        const v2 = expectStored(await store.set(KEY, { userAccessToken: token("a2") }, { expectedVersion: 1 }), "update");
        assertRecord(v2, KEY, { userAccessToken: token("a2") }, 2, "the record after a set without a postbox");
        assertRecord(await store.get(KEY), KEY, { userAccessToken: token("a2") }, 2, "get after a set without a postbox");
      },
    ],
    [
      "the token's user and consentid fields round-trip",
      async (store) => {
        const userAccessToken: UserAccessToken = { ...token("a1"), user: { id: "digime-user-1" }, consentid: "consent-1" };
        await create(store, KEY, { userAccessToken });
        assertRecord(await store.get(KEY), KEY, { userAccessToken }, 1, "get");
      },
    ],
    [
      "records handed out or taken in cannot be mutated to change the store",
      async (store) => {
        const input = { userAccessToken: token("a1"), postboxId: "postbox-1" };
        const created = await create(store, KEY, input);
        const expected = structuredClone(created);
        // Changing the caller's input after set must not reach the store.
        input.userAccessToken.accessToken.value = "changed-input";
        input.postboxId = "changed-input";
        // Records may be frozen (mutation throws) or copies (mutation is local): both are fine.
        const tamper = (record: StoredCredentials | undefined): void => {
          if (record === undefined) return;
          try {
            const writable = record as { -readonly [K in keyof StoredCredentials]: StoredCredentials[K] };
            writable.userAccessToken.accessToken.value = "tampered";
            writable.userAccessToken.refreshToken.expiry = 0;
            writable.version = 99;
            writable.postboxId = "tampered";
          } catch {
            // frozen: fine
          }
        };
        tamper(created);
        tamper(await store.get(KEY));
        for (const record of await store.listByUser(KEY.userId)) tamper(record);
        const conflict = await store.set(KEY, { userAccessToken: token("x") }, { expectedVersion: null });
        tamper(expectConflict(conflict, "create over an existing record"));
        assert.deepEqual(await store.get(KEY), expected, "the stored record must be unaffected by mutations");
        const updated = expectStored(await store.set(KEY, { userAccessToken: token("a2") }, { expectedVersion: 1 }), "update");
        tamper(updated);
        assertRecord(await store.get(KEY), KEY, { userAccessToken: token("a2") }, 2, "record after tampering with set's result");
      },
    ],
    [
      "unusual ids (__proto__, constructor, separators, unicode) are ordinary, distinct keys",
      async (store) => {
        const keys: CredentialsKey[] = [
          { userId: "__proto__", contractId: "constructor" },
          { userId: "constructor", contractId: "__proto__" },
          { userId: "toString", contractId: "hasOwnProperty" },
          // Pairs that collide if a store joins userId and contractId with ":" or "/":
          { userId: "a:b", contractId: "c" },
          { userId: "a", contractId: "b:c" },
          { userId: "a/b", contractId: "c" },
          { userId: "a", contractId: "b/c" },
          { userId: "ユーザー🙂", contractId: "契約 ✓" },
          // Quotes and backslashes (control characters are not ids: the built-in stores refuse them).
          { userId: " ", contractId: "\"'\\ {}" },
          { userId: "x".repeat(1000), contractId: "long" },
        ];
        for (const [i, key] of keys.entries()) await create(store, key, { userAccessToken: token(`id${i}`) });
        for (const [i, key] of keys.entries()) {
          assertRecord(await store.get(key), key, { userAccessToken: token(`id${i}`) }, 1, `record of ${describeKey(key)}`);
        }
        assert.deepEqual((await store.listByUser("__proto__")).map((r) => r.contractId), ["constructor"], "listByUser('__proto__')");
        assert.deepEqual((await store.listByUser("a")).map((r) => r.contractId).sort(), ["b/c", "b:c"], "listByUser('a')");
        assert.equal(await store.get({ userId: "a:b:c", contractId: "c" }), undefined, "a:b:c must not exist");
        assert.equal(await store.get({ userId: "hasOwnProperty", contractId: "toString" }), undefined, "swapped ids must not exist");
        assert.equal(await store.delete(keys[0]!), true, "delete of __proto__/constructor");
        assertRecord(await store.get(keys[1]!), keys[1]!, { userAccessToken: token("id1") }, 1, "constructor/__proto__ after delete");
      },
    ],
    [
      "updatedAt is a finite number that does not go backwards",
      async (store) => {
        const v1 = await create(store, KEY, { userAccessToken: token("a1") });
        const v2 = expectStored(await timedSet(store, KEY, { userAccessToken: token("a2") }, 1), "update");
        for (const record of [v1, v2, await store.get(KEY)]) {
          assert.ok(record !== undefined, "record must exist");
          assert.equal(typeof record.updatedAt, "number", "updatedAt must be a number");
          assert.ok(Number.isFinite(record.updatedAt), "updatedAt must be finite");
        }
        assert.ok(v2.updatedAt >= v1.updatedAt, `updatedAt went backwards: ${v1.updatedAt} then ${v2.updatedAt}`);
      },
    ],
  ];

  cases.push([
    "offers both refresh-lease methods or neither",
    async (store) => {
      const methods = [typeof store.acquireRefreshLease, typeof store.releaseRefreshLease];
      assert.ok(
        methods.every((kind) => kind === "function") || methods.every((kind) => kind === "undefined"),
        "acquireRefreshLease and releaseRefreshLease come together: the library uses neither unless both exist",
      );
      if (options.leases === true) assert.equal(methods[0], "function", "the store was declared to offer leases ({ leases: true }) but has no acquireRefreshLease");
    },
  ]);
  if (options.leases === true) cases.push(...leaseCases());
  cases.push([
    "offers listExpiring when declared to ({ listExpiring: true })",
    async (store) => {
      if (options.listExpiring === true) assert.equal(typeof store.listExpiring, "function", "the store was declared to offer listExpiring but has none");
      else assert.ok(["function", "undefined"].includes(typeof store.listExpiring), "listExpiring, when present, must be a method");
    },
  ]);
  cases.push(...expiringCases());

  return cases.map(([name, body]) => ({
    name,
    async run() {
      await body(await createStore());
    },
  }));
}

/** The rules of {@link ExpiringTokens.listExpiring}; a case passes at once for a store without the method. */
function expiringCases(): Array<[string, (store: TokenStore) => Promise<void>]> {
  const DAY = 86_400;
  const at = (seconds: number): UserAccessToken => ({
    accessToken: { value: `access-${seconds}`, expiry: 1_900_000_000 },
    refreshToken: { value: `refresh-${seconds}`, expiry: seconds },
  });
  const ids = (records: StoredCredentials[]): string[] => records.map((r) => `${r.userId}@${r.contractId}`);
  const base = 1_900_000_000;
  return [
    [
      "listExpiring lists the contract's records expiring before the moment, soonest first, ties by user id",
      async (store) => {
        if (store.listExpiring === undefined) return;
        await store.set({ userId: "u3", contractId: "c1" }, { userAccessToken: at(base + 3 * DAY) }, { expectedVersion: null });
        await store.set({ userId: "u1", contractId: "c1" }, { userAccessToken: at(base + 1 * DAY) }, { expectedVersion: null });
        await store.set({ userId: "u2b", contractId: "c1" }, { userAccessToken: at(base + 2 * DAY) }, { expectedVersion: null });
        await store.set({ userId: "u2a", contractId: "c1" }, { userAccessToken: at(base + 2 * DAY) }, { expectedVersion: null });
        await store.set({ userId: "u0", contractId: "c2" }, { userAccessToken: at(base) }, { expectedVersion: null });
        await store.set({ userId: "far", contractId: "c1" }, { userAccessToken: at(base + 30 * DAY) }, { expectedVersion: null });
        const before = (base + 3 * DAY) * 1000; // strictly before: u3 (exactly at it) is not listed
        assert.deepEqual(ids(await store.listExpiring("c1", { refreshTokenExpiresBefore: before, limit: 10 })), ["u1@c1", "u2a@c1", "u2b@c1"], "listExpiring must list c1's records expiring before the moment, soonest first, equal expiries by user id");
        const [first] = await store.listExpiring("c1", { refreshTokenExpiresBefore: before, limit: 1 });
        assertRecord(first, { userId: "u1", contractId: "c1" }, { userAccessToken: at(base + DAY) }, 1, "a listed record");
      },
    ],
    [
      "listExpiring pages with limit and after, without skipping or repeating ties",
      async (store) => {
        if (store.listExpiring === undefined) return;
        for (const userId of ["a", "b", "c", "d", "e"]) {
          await store.set({ userId, contractId: "c1" }, { userAccessToken: at(userId < "c" ? base + DAY : base + 2 * DAY) }, { expectedVersion: null });
        }
        const seen: string[] = [];
        let after: { refreshTokenExpiresAt: number; userId: string } | undefined;
        for (let page = 0; page < 10; page += 1) {
          const records = await store.listExpiring("c1", { refreshTokenExpiresBefore: (base + 10 * DAY) * 1000, limit: 2, ...(after === undefined ? {} : { after }) });
          assert.ok(records.length <= 2, `limit 2 must return at most 2 records, got ${records.length}`);
          if (records.length === 0) break;
          seen.push(...records.map((r) => r.userId));
          const last = records.at(-1)!;
          after = { refreshTokenExpiresAt: last.userAccessToken.refreshToken.expiry * 1000, userId: last.userId };
        }
        assert.deepEqual(seen, ["a", "b", "c", "d", "e"], "paging with after must visit every record once, in order");
      },
    ],
    [
      "listExpiring follows set and delete: a refreshed record leaves the window, a deleted one is gone",
      async (store) => {
        if (store.listExpiring === undefined) return;
        const soon = { refreshTokenExpiresBefore: (base + 5 * DAY) * 1000, limit: 10 };
        const created = await store.set({ userId: "x", contractId: "c1" }, { userAccessToken: at(base + DAY) }, { expectedVersion: null });
        await store.set({ userId: "y", contractId: "c1" }, { userAccessToken: at(base + DAY) }, { expectedVersion: null });
        assert.deepEqual(ids(await store.listExpiring("c1", soon)), ["x@c1", "y@c1"]);
        await store.set({ userId: "x", contractId: "c1" }, { userAccessToken: at(base + 60 * DAY) }, { expectedVersion: expectStored(created, "x").version });
        await store.delete({ userId: "y", contractId: "c1" });
        assert.deepEqual(ids(await store.listExpiring("c1", soon)), [], "a record whose new refresh token expires later, and a deleted record, must not be listed");
        assert.deepEqual(ids(await store.listExpiring("c1", { ...soon, refreshTokenExpiresBefore: (base + 61 * DAY) * 1000 })), ["x@c1"], "the record must be listed by its new expiry");
      },
    ],
  ];
}

/** The lease rules of {@link RefreshLeases}. */
function leaseCases(): Array<[string, (store: TokenStore) => Promise<void>]> {
  const leases = (store: TokenStore): RefreshLeases => store as TokenStore & RefreshLeases;
  const LONG = 60_000;
  return [
    [
      "a refresh lease is taken once: a second owner is refused until the holder releases it",
      async (store) => {
        const l = leases(store);
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "owner-a", ttlMs: LONG }), true, "the first acquire of a free lease must succeed");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "owner-b", ttlMs: LONG }), false, "a held lease must refuse another owner");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "owner-a", ttlMs: LONG }), false, "a held lease must refuse even its holder (a holder that asks again has lost track)");
        await l.releaseRefreshLease(KEY, "owner-a");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "owner-b", ttlMs: LONG }), true, "after its holder released it, the lease must be free");
      },
    ],
    [
      "only the holder can release a refresh lease",
      async (store) => {
        const l = leases(store);
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "holder", ttlMs: LONG }), true, "acquire");
        await l.releaseRefreshLease(KEY, "someone-else");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "third", ttlMs: LONG }), false, "a release by another owner must not free the lease");
        await l.releaseRefreshLease({ userId: "nobody", contractId: "none" }, "holder");
        await l.releaseRefreshLease(KEY, "holder");
        await l.releaseRefreshLease(KEY, "holder");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "third", ttlMs: LONG }), true, "releasing twice, or a free key, must be harmless");
      },
    ],
    [
      "a refresh lease frees itself after its ttl, and a late release cannot free the next holder's",
      async (store) => {
        const l = leases(store);
        const ttlMs = 150;
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "dies", ttlMs }), true, "acquire with a short ttl");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "waits", ttlMs: LONG }), false, "the lease must be held right after it was taken");
        // The holder "dies": nobody releases. The lease must come free by itself.
        const deadline = Date.now() + ttlMs + 5_000;
        let taken = false;
        while (!taken && Date.now() < deadline) {
          await sleep(25);
          taken = await l.acquireRefreshLease(KEY, { owner: "waits", ttlMs: LONG });
        }
        assert.equal(taken, true, `an unreleased lease must come free within its ttl (${ttlMs} ms) plus 5 s`);
        await l.releaseRefreshLease(KEY, "dies");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "third", ttlMs: LONG }), false, "the expired holder's late release must not free the new holder's lease");
      },
    ],
    [
      "a renewed refresh lease outlives its first ttl, and only its unexpired holder can renew it",
      async (store) => {
        const l = leases(store);
        if (typeof l.renewRefreshLease !== "function") return; // optional: a store without it gets longer, unrenewed leases
        const ttlMs = 300;
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "holder", ttlMs }), true, "acquire with a short ttl");
        assert.equal(await l.renewRefreshLease(KEY, { owner: "other", ttlMs: LONG }), false, "another owner must not renew the lease");
        assert.equal(await l.renewRefreshLease(KEY, { owner: "holder", ttlMs: LONG }), true, "the holder must renew its unexpired lease");
        await sleep(ttlMs + 200);
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "other", ttlMs: LONG }), false, "a renewed lease must still be held after its first ttl");
        await l.releaseRefreshLease(KEY, "holder");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "short", ttlMs: 100 }), true, "acquire again, short");
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline && !(await l.acquireRefreshLease(KEY, { owner: "next", ttlMs: LONG }))) await sleep(25);
        assert.equal(await l.renewRefreshLease(KEY, { owner: "short", ttlMs: LONG }), false, "a holder whose lease expired (and was taken) must not renew it");
      },
    ],
    [
      "refresh leases are per user and per contract",
      async (store) => {
        const l = leases(store);
        const others: CredentialsKey[] = [
          { userId: "bob", contractId: KEY.contractId },
          { userId: KEY.userId, contractId: "contract-2" },
          { userId: "a:b", contractId: "c" },
          { userId: "a", contractId: "b:c" },
        ];
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "o", ttlMs: LONG }), true, "acquire alice/contract-1");
        for (const key of others) {
          assert.equal(await l.acquireRefreshLease(key, { owner: "o", ttlMs: LONG }), true, `the lease of ${describeKey(key)} must be independent`);
        }
      },
    ],
    [
      "of 10 concurrent acquires of one refresh lease exactly one wins",
      async (store) => {
        const l = leases(store);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => l.acquireRefreshLease(KEY, { owner: `racer-${i}`, ttlMs: LONG })));
        assert.equal(results.filter(Boolean).length, 1, `exactly one concurrent acquire must win, ${results.filter(Boolean).length} did`);
      },
    ],
    [
      "records can be read and compare-and-set while a refresh lease is held",
      async (store) => {
        const l = leases(store);
        const created = expectStored(await store.set(KEY, { userAccessToken: token("a1") }, { expectedVersion: null }), "create");
        assert.equal(await l.acquireRefreshLease(KEY, { owner: "o", ttlMs: LONG }), true, "acquire");
        assert.deepEqual(await store.get(KEY), created, "get while leased");
        const next = expectStored(await store.set(KEY, { userAccessToken: token("a2") }, { expectedVersion: 1 }), "set while leased");
        assert.equal(next.version, 2, "set while leased must store version 2");
        assert.equal(await store.delete(KEY), true, "delete while leased");
      },
    ],
  ];
}

const KEY: CredentialsKey = { userId: "alice", contractId: "contract-1" };

const PUBLIC_KEY = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEAtest+/=\nline-two\n-----END RSA PUBLIC KEY-----\n";

function token(tag: string): UserAccessToken {
  return {
    accessToken: { value: `access-${tag}`, expiry: 1_900_000_000 },
    refreshToken: { value: `refresh-${tag}`, expiry: 1_900_086_400 },
  };
}

function describeKey(key: CredentialsKey): string {
  return `{ userId: ${JSON.stringify(key.userId.slice(0, 40))}, contractId: ${JSON.stringify(key.contractId.slice(0, 40))} }`;
}

function expectStored(result: SetResult, what: string): StoredCredentials {
  assert.equal(result.status, "stored", `${what}: expected status "stored", got "${result.status}"`);
  if (result.status !== "stored") throw new Error("unreachable");
  return result.record;
}

function expectConflict(result: SetResult, what: string): StoredCredentials | undefined {
  assert.equal(result.status, "conflict", `${what}: expected status "conflict", got "${result.status}"`);
  if (result.status !== "conflict") throw new Error("unreachable");
  return result.current;
}

/** Checks every field of `record`; optional fields must be absent (or undefined) when not expected. */
function assertRecord(
  record: StoredCredentials | undefined,
  key: CredentialsKey,
  credentials: Credentials,
  version: number,
  what: string,
): void {
  assert.ok(record !== undefined, `${what}: expected a record, got undefined`);
  assert.equal(record.userId, key.userId, `${what}: userId`);
  assert.equal(record.contractId, key.contractId, `${what}: contractId`);
  assert.equal(record.version, version, `${what}: version`);
  assert.deepEqual(record.userAccessToken, credentials.userAccessToken, `${what}: userAccessToken`);
  assert.equal(record.postboxId, credentials.postboxId, `${what}: postboxId`);
  assert.equal(record.publicKey, credentials.publicKey, `${what}: publicKey`);
  assert.equal(typeof record.updatedAt, "number", `${what}: updatedAt must be a number`);
}
