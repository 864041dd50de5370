import { describe, expect, it } from "vitest";
import { SeenSecrets, seeingStore } from "../../src/internal/seen-secrets.js";
import { MemoryTokenStore } from "../../src/index.js";
import { cellsOf } from "../../src/stores/record-cells.js";

const token = (n: number) => ({ accessToken: { value: `access-token-${n}`, expiry: 1 }, refreshToken: { value: `refresh-token-${n}`, expiry: 2 } });

describe("the secrets a client has seen (what its errors are scrubbed of)", () => {
  it("keeps at most max token values, forgetting one not seen again before one still in use", () => {
    const seen = new SeenSecrets(["contract-private-key"], 4);
    seen.addToken(token(1));
    seen.addToken(token(2));
    seen.addRecord({ userAccessToken: token(1) }); // token 1 is still in use
    seen.addToken(token(3));
    expect(new Set(seen.list)).toEqual(new Set(["contract-private-key", "access-token-1", "refresh-token-1", "access-token-3", "refresh-token-3"]));
  });

  it("ignores values too short to be secrets and things not shaped like tokens", () => {
    const seen = new SeenSecrets([]);
    seen.addToken({ accessToken: { value: "short" } });
    seen.addToken("not a token");
    seen.addRecord(undefined);
    expect(seen.list).toEqual([]);
  });

  it("notes what a store in memory answers at once (its cell, as looked up), as it notes what its get resolves to", async () => {
    const store = new MemoryTokenStore();
    const key = { userId: "alice", contractId: "contract-1" };
    await store.set(key, { userAccessToken: token(7) }, { expectedVersion: null });
    const seen = new SeenSecrets([]);
    const seeing = seeingStore(store, seen);
    const cellOf = cellsOf(seeing);
    expect(cellOf).toBeTypeOf("function");
    expect(seen.list).toEqual([]);
    const cell = cellOf!(key.userId, key.contractId);
    expect(cell?.record?.userAccessToken.accessToken.value).toBe("access-token-7");
    expect(new Set(seen.list)).toEqual(new Set(["access-token-7", "refresh-token-7"]));
    // The cell follows the store: a new set shows in it, and looking it up again notes the new token.
    const stored = await store.set(key, { userAccessToken: token(8) }, { expectedVersion: 1 });
    expect(stored.status).toBe("stored");
    expect(cell?.record?.userAccessToken.accessToken.value).toBe("access-token-8");
    expect(seen.list).not.toContain("access-token-8");
    expect(cellOf!(key.userId, key.contractId)).toBe(cell);
    expect(seen.list).toContain("access-token-8");
    // A store of your own is read through get: nothing is offered for it.
    expect(cellsOf(seeingStore({ ...store, get: (k) => store.get(k), set: (...a) => store.set(...a), delete: (k) => store.delete(k), listByUser: (u) => store.listByUser(u) }, seen))).toBeUndefined();
  });
});
