import { describe, expect, it } from "vitest";
import { AuthorizationStateError, ValidationError } from "../../src/index.js";
import { REDIRECT_URI, setup, STATE_SECRET } from "../support/setup.js";

async function begun(version: "v8" | "v16" = "v16", now?: () => number) {
  const h = setup(version, {}, now ? { now } : {});
  const begin = await h.client.beginAuthorization({ userId: "alice" });
  const callback = await h.sandbox.consent(begin.url, { libraryId: "lib-alice" });
  return { h, ...begin, callback };
}

describe("completing an authorization refuses anything that is not the callback it expects", () => {
  it("refuses a replayed callback with STATE_REPLAYED, with the sealed bundle or through the pending store", async () => {
    const { h, sealed, callback } = await begun();
    await h.client.completeAuthorization(callback, { sealed });
    await expect(h.client.completeAuthorization(callback, { sealed })).rejects.toMatchObject({ code: "STATE_REPLAYED" });
    await expect(h.client.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "alice" })).rejects.toMatchObject({ code: "STATE_REPLAYED" });
    expect(h.sandbox.counters.exchanges).toBe(1);
  });

  it("refuses a sealed bundle with any change as STATE_TAMPERED, before any exchange", async () => {
    const { h, sealed, callback } = await begun();
    const middle = Math.floor(sealed.length / 2);
    const altered = sealed.slice(0, middle) + (sealed[middle] === "x" ? "y" : "x") + sealed.slice(middle + 1);
    await expect(h.client.completeAuthorization(callback, { sealed: altered })).rejects.toBeInstanceOf(AuthorizationStateError);
    await expect(h.client.completeAuthorization(callback, { sealed: "garbage" })).rejects.toMatchObject({ code: "STATE_TAMPERED" });
    expect(h.sandbox.counters.exchanges).toBe(0);
  });

  it("refuses another user's bundle for this callback as STATE_MISMATCH", async () => {
    const { h, callback } = await begun();
    const other = await h.client.beginAuthorization({ userId: "mallory" });
    await expect(h.client.completeAuthorization(callback, { sealed: other.sealed })).rejects.toMatchObject({ code: "STATE_MISMATCH" });
    expect(h.sandbox.counters.exchanges).toBe(0);
  });

  it("refuses a bundle sealed under another secret as STATE_TAMPERED", async () => {
    const { h, callback } = await begun();
    const { WriteClient, MemoryTokenStore } = await import("../../src/index.js");
    const stranger = new WriteClient({
      sdk: h.sandbox.sdk("v16"),
      contractDetails: h.sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: new MemoryTokenStore(),
      stateSecret: "H3x4rpAgm-DlYbgMFVNN62tYengNr9BaABC-46KKnKU",
    });
    const foreign = await stranger.beginAuthorization({ userId: "alice" });
    await expect(h.client.completeAuthorization(callback, { sealed: foreign.sealed })).rejects.toMatchObject({ code: "STATE_TAMPERED" });
  });

  it("refuses an expired authorization as STATE_EXPIRED", async () => {
    let now = Date.UTC(2026, 0, 1);
    const { h, sealed, callback } = await begun("v16", () => now);
    now += 16 * 60 * 1000;
    await expect(h.client.completeAuthorization(callback, { sealed })).rejects.toMatchObject({ code: "STATE_EXPIRED" });
    expect(h.sandbox.counters.exchanges).toBe(0);
  });

  it("refuses an unknown state without a sealed bundle as STATE_UNKNOWN", async () => {
    const { h } = await begun();
    const forged = `${REDIRECT_URI}?success=true&code=abc&state=${"Z".repeat(43)}`;
    await expect(h.client.completeAuthorization(forged)).rejects.toMatchObject({ code: "STATE_UNKNOWN" });
    await expect(h.client.completeAuthorization(forged, { allowPendingStore: true, expectedUserId: "alice" })).rejects.toMatchObject({ code: "STATE_UNKNOWN" });
  });

  it("refuses a callback missing the public key beside a postbox id (generation A)", async () => {
    const { h, sealed, callback } = await begun("v8");
    const url = new URL(callback);
    url.searchParams.delete("publicKey");
    const error = await h.client.completeAuthorization(url, { sealed }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: "INVALID_CALLBACK" });
    expect((error as Error).message).toContain("callback.publicKey");
  });

  it("emits authorization:failed for every refusal", async () => {
    const { h, callback } = await begun();
    await h.client.completeAuthorization(callback, { sealed: "garbage" }).catch(() => undefined);
    expect(h.events.filter((e) => e.name === "authorization:failed").map((e) => e.payload)).toMatchObject([{ error: { code: "STATE_TAMPERED" } }]);
  });
});

describe("secrets", () => {
  it("rotate: a bundle sealed under an old secret completes while that secret is still listed", async () => {
    const { h: first, callback, sealed } = await begun();
    const { WriteClient } = await import("../../src/index.js");
    const rotated = new WriteClient({
      sdk: first.sandbox.sdk("v16"),
      contractDetails: first.sandbox.contractDetails,
      redirectUri: REDIRECT_URI,
      tokenStore: first.store,
      stateSecret: ["HXqkovR-txOxBGGGBObl9zHOxjR8D5deGjNerVXxx1I", STATE_SECRET],
    });
    await expect(rotated.completeAuthorization(callback, { sealed })).resolves.toMatchObject({ userId: "alice" });
  });
});
