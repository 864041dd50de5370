/**
 * Authorization is bound to the browser and the user: a consent URL started
 * by one user and approved by another never stores a token, and a denial
 * counts only for an authorization the browser really started.
 */
import { describe, expect, it } from "vitest";
import {
  AuthorizationUserMismatchError,
  DigimeWriteError,
  ValidationError,
  WriteClient,
  type AuthorizationBundle,
  type PendingAuthorizationStore,
} from "../../src/index.js";
import type { ConsumeResult } from "../../src/stores.js";
import { REDIRECT_URI, setup } from "../support/setup.js";

/** Run `action`, expect a typed error with `code`, no code exchange, and no token stored for either user. */
async function refusedWithoutExchange(h: ReturnType<typeof setup>, action: () => Promise<unknown>, code: string): Promise<DigimeWriteError> {
  const exchanges = h.sandbox.counters.exchanges;
  const error = await action().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DigimeWriteError);
  expect((error as DigimeWriteError).code).toBe(code);
  expect(h.sandbox.counters.exchanges).toBe(exchanges);
  expect(await h.store.listByUser("mallory")).toEqual([]);
  expect(await h.store.listByUser("victim")).toEqual([]);
  return error as DigimeWriteError;
}

describe("a consent URL forwarded to another user (login CSRF on the connect flow)", () => {
  it("is refused before the exchange when the callback's user is not expectedUserId", async () => {
    const h = setup("v16");
    // The attacker starts a connect as themselves and sends the consent URL to the victim.
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    // The victim's browser has no cookie for this authorization; the app knows who is signed in.
    const error = await refusedWithoutExchange(
      h,
      () => h.client.completeAuthorization(victimCallback, { allowPendingStore: true, expectedUserId: "victim" }),
      "AUTHORIZATION_USER_MISMATCH",
    );
    expect(error).toBeInstanceOf(AuthorizationUserMismatchError);
    const failed = h.events.filter((e) => e.name === "authorization:failed");
    expect(failed).toHaveLength(1);
    // The event names who began the authorization: the user who sent the link.
    expect(failed[0]!.payload).toMatchObject({ userId: "mallory", error: { code: "AUTHORIZATION_USER_MISMATCH" } });
    // The state is used up: the attacker cannot complete it afterwards either.
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, { sealed: attacker.sealed }), "STATE_REPLAYED");
  });

  it("is refused with default options when the browser brings no sealed bundle, before the exchange", async () => {
    const h = setup("v16");
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback), "STATE_UNKNOWN");
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, {}), "STATE_UNKNOWN");
  });

  it("needs expectedUserId beside allowPendingStore (INVALID_ARGUMENT naming it)", async () => {
    const h = setup("v16");
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    const error = await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, { allowPendingStore: true }), "INVALID_ARGUMENT");
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["options.expectedUserId"]);
  });

  it("is refused when the sealed bundle is required and the browser has none", async () => {
    const h = setup("v16");
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, { requireSealed: true, allowPendingStore: true, expectedUserId: "mallory" }), "STATE_UNKNOWN");
  });

  it("is refused by a client made with requireSealedBundle, whatever the call passes", async () => {
    const h = setup("v16", { requireSealedBundle: true });
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, { allowPendingStore: true, expectedUserId: "mallory" }), "STATE_UNKNOWN");
  });

  it("is refused when the victim's browser holds its own, different sealed bundle", async () => {
    const h = setup("v16");
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const own = await h.client.beginAuthorization({ userId: "victim" });
    const victimCallback = await h.sandbox.consent(attacker.url, { libraryId: "lib-victim" });
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(victimCallback, { sealed: own.sealed, expectedUserId: "victim", requireSealed: true }), "STATE_MISMATCH");
  });

  it("completes normally for the user who started it, with every check on", async () => {
    const h = setup("v16", { requireSealedBundle: true });
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const callback = await h.sandbox.consent(begin.url);
    const result = await h.client.completeAuthorization(callback, { sealed: begin.sealed, expectedUserId: "victim" });
    expect(result.userId).toBe("victim");
    expect(await h.store.listByUser("victim")).toHaveLength(1);
  });
});

describe("a denial callback", () => {
  it("as digi.me sends it (success=false and errorCode, no state) is AUTHORIZATION_DENIED naming the user of the sealed bundle", async () => {
    const h = setup("v16");
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const denied = await h.sandbox.consent(begin.url, { approve: false });
    expect(new URL(denied).searchParams.has("state")).toBe(false);
    await expect(h.client.completeAuthorization(denied, { sealed: begin.sealed })).rejects.toMatchObject({
      code: "AUTHORIZATION_DENIED",
      errorCode: "UserCancelled",
      userId: "victim",
    });
    expect(h.events.filter((e) => e.name === "authorization:failed").map((e) => e.payload)).toMatchObject([{ userId: "victim", error: { code: "AUTHORIZATION_DENIED" } }]);
  });

  it("with a state (sent on request) that matches the sealed bundle is AUTHORIZATION_DENIED too", async () => {
    const h = setup("v16");
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const denied = await h.sandbox.consent(begin.url, { approve: false, stateOnDenial: true, errorCode: "ServiceAuthorizationError" });
    await expect(h.client.completeAuthorization(denied, { sealed: begin.sealed })).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED", errorCode: "ServiceAuthorizationError", userId: "victim" });
  });

  it("without the sealed bundle is AUTHORIZATION_DENIED naming nobody", async () => {
    const h = setup("v16");
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const denied = await h.sandbox.consent(begin.url, { approve: false });
    await expect(h.client.completeAuthorization(denied)).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED", errorCode: "UserCancelled", userId: undefined });
  });

  it("forged before the real callback cannot make the real callback fail (a denial consumes nothing)", async () => {
    const h = setup("v16");
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    // Anyone can send the browser to a denial URL, with or without the real state (it is in the consent URL).
    for (const forged of [`${REDIRECT_URI}?success=false&errorCode=UserCancelled`, `${REDIRECT_URI}?success=false&errorCode=UserCancelled&state=${begin.state}`]) {
      await expect(h.client.completeAuthorization(forged, { sealed: begin.sealed })).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED" });
      await expect(h.client.completeAuthorization(forged, { allowPendingStore: true, expectedUserId: "victim" })).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED" });
    }
    const callback = await h.sandbox.consent(begin.url, { libraryId: "lib-victim" });
    await expect(h.client.completeAuthorization(callback, { sealed: begin.sealed })).resolves.toMatchObject({ userId: "victim" });
    expect(await h.store.listByUser("victim")).toHaveLength(1);
  });

  it("forged before the real callback cannot make it fail on the pending-store path either", async () => {
    const h = setup("v16");
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const forged = `${REDIRECT_URI}?success=false&errorCode=UserCancelled&state=${begin.state}`;
    await expect(h.client.completeAuthorization(forged, { allowPendingStore: true, expectedUserId: "victim" })).rejects.toMatchObject({ code: "AUTHORIZATION_DENIED" });
    const callback = await h.sandbox.consent(begin.url, { libraryId: "lib-victim" });
    await expect(h.client.completeAuthorization(callback, { allowPendingStore: true, expectedUserId: "victim" })).resolves.toMatchObject({ userId: "victim" });
  });

  it("with a state that does not match the sealed bundle is STATE_MISMATCH, not a denial", async () => {
    const h = setup("v16");
    const own = await h.client.beginAuthorization({ userId: "victim" });
    const forged = `https://app.example/digime/callback?success=false&errorCode=UserCancelled&state=${"x".repeat(43)}`;
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(forged, { sealed: own.sealed }), "STATE_MISMATCH");
  });

  it("from a user other than expectedUserId is AUTHORIZATION_USER_MISMATCH", async () => {
    const h = setup("v16");
    const attacker = await h.client.beginAuthorization({ userId: "mallory" });
    const denied = await h.sandbox.consent(attacker.url, { approve: false });
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(denied, { sealed: attacker.sealed, expectedUserId: "victim" }), "AUTHORIZATION_USER_MISMATCH");
  });
});

describe("the pending-store check compares the whole bundle", () => {
  it("refuses a pending entry that shares the verifier but names another user", async () => {
    const held = new Map<string, AuthorizationBundle>();
    // A store that someone altered: same state and verifier, another user.
    const pending: PendingAuthorizationStore = {
      async save(bundle) {
        held.set(bundle.state, { ...bundle, userId: "mallory" });
      },
      async consume(state): Promise<ConsumeResult> {
        const bundle = held.get(state);
        held.delete(state);
        return bundle === undefined ? { status: "unknown" } : { status: "found", bundle };
      },
    };
    const h = setup("v16", { pendingAuthorizations: pending });
    const begin = await h.client.beginAuthorization({ userId: "victim" });
    const callback = await h.sandbox.consent(begin.url);
    await refusedWithoutExchange(h, () => h.client.completeAuthorization(callback, { sealed: begin.sealed }), "STATE_TAMPERED");
  });

  it("accepts a pending entry whose context came back with its keys reordered (as jsonb does)", async () => {
    const held = new Map<string, AuthorizationBundle>();
    const pending: PendingAuthorizationStore = {
      async save(bundle) {
        held.set(bundle.state, { ...bundle, context: { b: 2, a: 1 } });
      },
      async consume(state): Promise<ConsumeResult> {
        const bundle = held.get(state);
        held.delete(state);
        return bundle === undefined ? { status: "unknown" } : { status: "found", bundle };
      },
    };
    const h = setup("v16", { pendingAuthorizations: pending });
    const begin = await h.client.beginAuthorization({ userId: "victim", context: { a: 1, b: 2 } });
    const callback = await h.sandbox.consent(begin.url);
    await expect(h.client.completeAuthorization(callback, { sealed: begin.sealed })).resolves.toMatchObject({ userId: "victim" });
  });
});

describe("the sealed bundle fits a browser cookie", () => {
  it("every bundle begun with the largest inputs stays within 3,800 characters", async () => {
    const h = setup("v16");
    const { sealed } = await h.client.beginAuthorization({ userId: "u".repeat(256), context: { d: "x".repeat(2040) } });
    expect(sealed.length).toBeLessThanOrEqual(3800);
  });

  it("a context over 2 KiB is refused, naming input.context", async () => {
    const h = setup("v16");
    await expect(h.client.beginAuthorization({ userId: "alice", context: { d: "x".repeat(2041) } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("input.context") });
  });

  it("a bundle that would not fit is refused with a clear error, and nothing is left pending", async () => {
    const saved: string[] = [];
    const h = setup("v16");
    // An SDK whose verifier is far longer than PKCE's 128 characters pushes the bundle over the limit.
    const sdk = h.sandbox.sdk("v16");
    const long = new Proxy(sdk, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (name !== "getAuthorizeUrl" || typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          const result = (await (value as (...a: unknown[]) => Promise<{ codeVerifier: string }>).apply(target, args)) as { codeVerifier: string };
          return { ...result, codeVerifier: result.codeVerifier.padEnd(1000, "v") };
        };
      },
    });
    const client = new WriteClient({ sdk: long, contractDetails: h.sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: h.store, pendingAuthorizations: { save: async (b) => void saved.push(b.state), consume: async () => ({ status: "unknown" }) } });
    const error = await client.beginAuthorization({ userId: "u".repeat(256), context: { d: "x".repeat(2040) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/input\.context: makes the sealed bundle \d+ characters, over the 3800/);
    expect(saved).toEqual([]);
  });
});
