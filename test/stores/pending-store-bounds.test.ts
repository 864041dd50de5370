/**
 * The in-memory pending store stays bounded without letting forged states
 * push out real authorizations, and without scanning itself on every insert.
 */
import { describe, expect, it } from "vitest";
import { MemoryPendingAuthorizationStore, type AuthorizationBundle } from "../../src/index.js";
import { pendingStoreContract } from "../../src/testing/pending-store-contract.js";

const T0 = Date.UTC(2030, 0, 1);
const bundle = (n: number, expiresAt = T0 + 60_000): AuthorizationBundle => ({
  state: `state-${String(n).padStart(12, "0")}`,
  codeVerifier: `verifier-${n}`,
  userId: `user-${n}`,
  contractId: "c",
  expiresAt,
});

describe("MemoryPendingAuthorizationStore: pendingStoreContract", () => {
  for (const c of pendingStoreContract(() => new MemoryPendingAuthorizationStore())) it(c.name, c.run);
});

describe("MemoryPendingAuthorizationStore bounds", () => {
  it("a flood of never-issued states evicts neither pending bundles nor replay markers", async () => {
    const store = new MemoryPendingAuthorizationStore({ maxEntries: 100, now: () => T0 });
    const used = bundle(1);
    const waiting = bundle(2);
    await store.save(used);
    expect((await store.consume(used.state, T0 + 60_000)).status).toBe("found");
    await store.save(waiting);
    for (let i = 0; i < 10_000; i += 1) expect((await store.consume(`forged-${i}-xxxxxxxxxxxx`, T0 + 60_000)).status).toBe("unknown");
    expect((await store.consume(used.state, T0 + 60_000)).status).toBe("used");
    expect(await store.consume(waiting.state, T0 + 60_000)).toEqual({ status: "found", bundle: waiting });
    // Still bounded: at most maxEntries of each kind.
    expect(store.size).toBeLessThanOrEqual(200);
  });

  it("when full, sweeps for expired entries once per maxEntries / 8 inserts, not on every insert", async () => {
    let clockReads = 0;
    const store = new MemoryPendingAuthorizationStore({
      maxEntries: 800,
      now: () => {
        clockReads += 1;
        return T0;
      },
    });
    for (let i = 0; i < 800; i += 1) await store.save(bundle(i));
    expect(clockReads).toBe(0);
    for (let i = 800; i < 8_800; i += 1) await store.save(bundle(i));
    // 8,000 inserts past the bound: one sweep per 100 of them.
    expect(clockReads).toBeLessThanOrEqual(8_000 / 100 + 1);
    expect(store.size).toBe(800);
    // The newest survive; the oldest were dropped.
    expect((await store.consume(bundle(8_799).state, T0)).status).toBe("found");
    expect((await store.consume(bundle(0).state, T0)).status).toBe("unknown");
  });

  it("drops expired entries before live ones when it must make room", async () => {
    let now = T0;
    const store = new MemoryPendingAuthorizationStore({ maxEntries: 10, now: () => now });
    const live = bundle(0, T0 + 600_000);
    await store.save(live);
    for (let i = 1; i < 10; i += 1) await store.save(bundle(i, T0 + 1_000));
    now = T0 + 2_000;
    await store.save(bundle(10, T0 + 600_000));
    expect(await store.consume(live.state, now)).toEqual({ status: "found", bundle: live });
  });
});
