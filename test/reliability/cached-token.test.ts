/**
 * A valid token does not wait for the store. A process that holds a user's
 * token, valid beyond the refresh window, keeps writing while the token store
 * does not answer at all; writes that need the store (a user this process has
 * not cached) fail within the store timeout instead, as a retryable
 * `TOKEN_STORE_FAILED`. In one process, over a store that hangs on purpose.
 */
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { jsonFile, REDIRECT_URI, STATE_SECRET } from "../support/setup.js";
import { FaultyStore, HEALTHY } from "./support/faulty-store.js";

const NEVER_ANSWERS = { ...HEALTHY, hang: 1 };

function harness(storeTimeoutMs: number) {
  const sandbox = createSandbox({ accessTokenLifetimeSeconds: 600 });
  const store = new FaultyStore(new MemoryTokenStore(), 7);
  const client = new WriteClient({
    sdk: sandbox.sdk("v16"),
    contractDetails: sandbox.contractDetails,
    redirectUri: REDIRECT_URI,
    tokenStore: store,
    stateSecret: STATE_SECRET,
    refreshWindowMs: 60_000,
    storeTimeoutMs,
    retry: { retries: 0 },
  });
  const authorize = async (userId: string): Promise<void> => {
    const { url, sealed } = await client.beginAuthorization({ userId });
    await client.completeAuthorization(await sandbox.consent(url, { libraryId: `lib-${userId}` }), { sealed });
  };
  return { sandbox, store, client, authorize };
}

describe("a token store that stops answering", () => {
  it("does not hold up writes whose cached token is valid: every one is delivered, sharing one read of the store", async () => {
    // A store timeout far beyond the test's: a write that waited for the store would never settle in time.
    const { sandbox, store, client, authorize } = harness(600_000);
    await authorize("alice");
    await client.write("alice", jsonFile(0));
    store.faults = NEVER_ANSWERS;
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => client.write("alice", jsonFile(i + 1))));
    expect(receipts).toHaveLength(20);
    expect(sandbox.library("lib-alice")?.files).toHaveLength(21);
    // Writes share the read in flight instead of piling up one hung read each.
    expect(store.counts.hung).toBe(1);
    store.faults = HEALTHY;
    await client.close({ drain: true });
  }, 20_000);

  it("fails a write that needs the store (a user not cached here) with a retryable TOKEN_STORE_FAILED within the store timeout", async () => {
    const { sandbox, store, client, authorize } = harness(300);
    await authorize("bob");
    // Another process, in effect: the same store and contract, nothing cached.
    const cold = new WriteClient({
      sdk: sandbox.sdk("v16"),
      contractDetails: sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: store,
      stateSecret: STATE_SECRET,
      storeTimeoutMs: 300,
      retry: { retries: 0 },
    });
    store.faults = NEVER_ANSWERS;
    await expect(cold.write("bob", jsonFile(0))).rejects.toMatchObject({ code: "TOKEN_STORE_FAILED" });
    store.faults = HEALTHY;
    await cold.close({ drain: false });
    await client.close({ drain: false });
  }, 20_000);
});
