/**
 * The behaviour every {@link PendingAuthorizationStore} must show, as a list
 * of test cases any test runner can run: the memory, Redis and PostgreSQL
 * stores pass it; run it against your own before using it.
 * @module
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import type { AuthorizationBundle } from "../authorization/bundle.js";
import type { PendingAuthorizationStore } from "../stores/pending-store.js";

/**
 * One case of the pending-store contract: a name for your test runner and a
 * `run` that rejects with a descriptive `Error` when the store misbehaves.
 *
 * @example
 * ```ts
 * const [first] = pendingStoreContract(() => new MemoryPendingAuthorizationStore());
 * await first.run(); // throws if the store breaks the contract
 * ```
 */
export interface PendingStoreContractCase {
  /** What the case proves, phrased as a test name. */
  readonly name: string;
  /** Runs the case against a fresh store; rejects on the first violation. */
  run(): Promise<void>;
}

/** A bundle as `beginAuthorization` makes one: a random state and verifier, valid for `ttlMs`. */
function bundleFor(userId: string, ttlMs: number): AuthorizationBundle {
  return {
    state: randomBytes(24).toString("base64url"),
    codeVerifier: randomBytes(32).toString("base64url"),
    userId,
    contractId: "contract-under-test",
    expiresAt: Date.now() + ttlMs,
    context: { returnTo: "/settings" },
  };
}

/**
 * The contract suite for a {@link PendingAuthorizationStore}: one case per
 * rule. Each case calls `createStore` once; return a fresh, empty store (a
 * new key prefix, a new table) each time. A case's `run` rejects with an
 * `AssertionError` from `node:assert` describing the violation, so the suite
 * works under any test runner. A store may drop a bundle once its
 * `expiresAt` has passed or return it as it was: the client checks the
 * expiry itself (and then says `STATE_EXPIRED`).
 *
 * The rules: a saved bundle comes back whole exactly once, then its state
 * answers `used`; a state never saved answers `unknown`, then `used`; a
 * saving over a state that exists is refused; of several consumers racing for one state, exactly one
 * gets the bundle; `util.inspect` of the store never shows a code verifier.
 *
 * @param createStore Makes a fresh, empty store for one case.
 * @returns The cases, in a stable order with unique names.
 * @example
 * ```ts
 * import { describe, it } from "vitest";
 * import { pendingStoreContract } from "digime-write-pipeline/testing";
 *
 * describe("MyPendingStore", () => {
 *   for (const c of pendingStoreContract(() => new MyPendingStore())) it(c.name, c.run);
 * });
 * ```
 */
export function pendingStoreContract(createStore: () => PendingAuthorizationStore | Promise<PendingAuthorizationStore>): PendingStoreContractCase[] {
  const usedUntil = (): number => Date.now() + 60_000;
  const cases: PendingStoreContractCase[] = [
    {
      name: "returns a saved bundle whole, exactly once; the state then answers used",
      async run() {
        const store = await createStore();
        const bundle = bundleFor("alice", 60_000);
        await store.save(bundle);
        const first = await store.consume(bundle.state, usedUntil());
        assert.equal(first.status, "found", "the first consume of a saved state must answer found");
        assert.deepEqual(first.status === "found" ? first.bundle : undefined, bundle, "consume must return the bundle exactly as saved");
        const again = await store.consume(bundle.state, usedUntil());
        assert.equal(again.status, "used", "a state consumed before must answer used (a replay)");
      },
    },
    {
      name: "answers unknown for a state never saved, and used when the same state comes again",
      async run() {
        const store = await createStore();
        const state = randomBytes(24).toString("base64url");
        assert.equal((await store.consume(state, usedUntil())).status, "unknown");
        assert.equal((await store.consume(state, usedUntil())).status, "used", "an unknown state must be remembered as used until usedUntil");
      },
    },
    {
      name: "keeps each bundle apart: consuming one state leaves the others waiting",
      async run() {
        const store = await createStore();
        const bundles = ["alice", "bob", "carol"].map((user) => bundleFor(user, 60_000));
        for (const bundle of bundles) await store.save(bundle);
        const second = await store.consume(bundles[1]!.state, usedUntil());
        assert.equal(second.status === "found" ? second.bundle.userId : second.status, "bob");
        for (const bundle of [bundles[0]!, bundles[2]!]) {
          const result = await store.consume(bundle.state, usedUntil());
          assert.equal(result.status === "found" ? result.bundle.userId : result.status, bundle.userId);
        }
      },
    },
    {
      name: "refuses to save a bundle under a state that is already saved, and keeps the first",
      async run() {
        const store = await createStore();
        const bundle = bundleFor("alice", 60_000);
        await store.save(bundle);
        await assert.rejects(store.save({ ...bundle, userId: "mallory" }), "saving over an existing state must reject");
        const result = await store.consume(bundle.state, usedUntil());
        assert.equal(result.status === "found" ? result.bundle.userId : result.status, "alice", "the first bundle must stay");
      },
    },
    {
      name: "gives a state to exactly one of several consumers racing for it",
      async run() {
        const store = await createStore();
        const bundle = bundleFor("alice", 60_000);
        await store.save(bundle);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.consume(bundle.state, usedUntil())));
        assert.equal(results.filter((r) => r.status === "found").length, 1, "exactly one consumer may get the bundle");
        assert.ok(
          results.every((r) => r.status === "found" || r.status === "used"),
          "the others must answer used",
        );
      },
    },
    {
      name: "never shows a code verifier in util.inspect",
      async run() {
        const store = await createStore();
        const bundle = bundleFor("alice", 60_000);
        await store.save(bundle);
        assert.ok(!inspect(store, { depth: 10 }).includes(bundle.codeVerifier), "util.inspect(store) must not show a code verifier");
      },
    },
  ];
  return cases;
}
