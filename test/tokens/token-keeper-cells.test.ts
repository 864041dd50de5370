import { describe, expect, it } from "vitest";
import { MemoryTokenStore } from "../../src/index.js";
import { SeenSecrets, seeingStore } from "../../src/internal/seen-secrets.js";
import type { SdkPort } from "../../src/sdk/sdk-port.js";
import { TokenKeeper, type UsableCredentials } from "../../src/tokens/token-keeper.js";

const CONTRACT = "contract-1";
const HOUR = 3_600_000;
const token = (n: number, now: number) => ({
  accessToken: { value: `access-token-${n}`, expiry: (now + HOUR) / 1000 },
  refreshToken: { value: `refresh-token-${n}`, expiry: (now + 24 * HOUR) / 1000 },
});

/** A port that never writes nor refreshes: these tests only ask the keeper for credentials. */
const port: SdkPort = {
  generation: "C",
  canRefresh: false,
  getAuthorizeUrl: () => Promise.reject(new Error("unused")),
  exchangeCode: () => Promise.reject(new Error("unused")),
  write: () => Promise.reject(new Error("unused")),
  refresh: () => Promise.reject(new Error("unused")),
};

function keeperOn(store: MemoryTokenStore, seen: SeenSecrets, idleUserMs: number): TokenKeeper {
  return new TokenKeeper({
    store: seeingStore(store, seen),
    contractId: CONTRACT,
    port,
    emit: () => undefined,
    now: Date.now,
    refreshWindowMs: 60_000,
    persistRetry: { inlineAttempts: 1, minDelayMs: 1, maxDelayMs: 10 },
    storeTimeoutMs: 1_000,
    coordination: { leaseMs: 3_000, holderWaitMs: 1_000, newerTokenWaitMs: 100 },
    idleUserMs,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The keeper's answer for a store in memory, which never needs waiting for. */
function atOnce(answer: UsableCredentials | Promise<UsableCredentials>): UsableCredentials {
  if (answer instanceof Promise) throw new Error("a store in memory answers at once");
  return answer;
}

describe("the keeper's reads of a MemoryTokenStore (its cells)", () => {
  it("keeps the token of a user writing all along among the secrets its errors are scrubbed of, while newer ones come and go", async () => {
    const store = new MemoryTokenStore();
    const now = Date.now();
    await store.set({ userId: "alice", contractId: CONTRACT }, { userAccessToken: token(1, now) }, { expectedVersion: null });
    // Room for two tokens (four values): alice's, and one more.
    const seen = new SeenSecrets([], 4);
    // Idle sweeps every 200 ms; a user is let go only after three without a write.
    const keeper = keeperOn(store, seen, 400);
    try {
      const usable = (): string => atOnce(keeper.ensureUsable("alice")).credentials.userAccessToken.accessToken.value;
      expect(usable()).toBe("access-token-1");
      seen.addToken(token(2, now));
      // alice writes on, past an idle sweep: her token is in use all along.
      for (let i = 0; i < 6; i += 1) {
        await sleep(50);
        expect(usable()).toBe("access-token-1");
      }
      // Another token arrives: the one not seen since goes, alice's stays.
      seen.addToken(token(3, now));
      expect(new Set(seen.list)).toEqual(new Set(["access-token-1", "refresh-token-1", "access-token-3", "refresh-token-3"]));
    } finally {
      await keeper.close();
    }
  });

  it("answers the same record again without looking it up, and a new record at once", async () => {
    const store = new MemoryTokenStore();
    const now = Date.now();
    const key = { userId: "alice", contractId: CONTRACT };
    await store.set(key, { userAccessToken: token(1, now) }, { expectedVersion: null });
    const seen = new SeenSecrets([]);
    const keeper = keeperOn(store, seen, 60_000);
    try {
      const first = atOnce(keeper.ensureUsable("alice"));
      expect(atOnce(keeper.ensureUsable("alice"))).toBe(first);
      await store.set(key, { userAccessToken: token(2, now) }, { expectedVersion: 1 });
      const second = atOnce(keeper.ensureUsable("alice"));
      expect(second).not.toBe(first);
      expect(second.credentials.userAccessToken.accessToken.value).toBe("access-token-2");
      // Looked up, so noted: an error quoting the new token is scrubbed of it.
      expect(seen.list).toContain("refresh-token-2");
    } finally {
      await keeper.close();
    }
  });
});
