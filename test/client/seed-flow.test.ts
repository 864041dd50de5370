import { describe, expect, it } from "vitest";
import { GENERATIONS, jsonFile, setup } from "../support/setup.js";

describe.each(GENERATIONS)("the seed flow on SDK %s", (version) => {
  it("authorizes, exchanges, writes, and the bytes arrive in the user's library", async () => {
    const h = setup(version);
    const { url, sealed, state, expiresAt } = await h.client.beginAuthorization({ userId: "alice", context: { returnTo: "/done" } });
    expect(state.length).toBeGreaterThanOrEqual(43);
    expect(expiresAt).toBeGreaterThan(h.sandbox.now());
    const callback = await h.sandbox.consent(url, { libraryId: "lib-alice" });
    const completed = await h.client.completeAuthorization(callback, { sealed });
    expect(completed).toMatchObject({ userId: "alice", context: { returnTo: "/done" }, persisted: true, hasPostbox: version === "v8" });

    const bytes = Buffer.from("hello digi.me");
    const receipt = await h.client.write("alice", {
      fileData: bytes,
      fileName: "hello.txt",
      fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "acc-1" }], tags: ["t"] },
    });
    expect(receipt).toMatchObject({ userId: "alice", status: "delivered", attempts: 1, tokenRefreshed: false, possibleDuplicate: false });
    const files = h.sandbox.library("lib-alice")?.files ?? [];
    expect(files).toHaveLength(1);
    expect(files[0]?.bytes.equals(bytes)).toBe(true);
    // SDKs 9+ never send the file name (as the real ones do not).
    expect(files[0]?.fileName).toBe(version === "v8" ? "hello.txt" : "");
    expect(files[0]?.fileDescriptor).toMatchObject({ mimeType: "text/plain", tags: ["t"] });

    const stored = await h.store.get({ userId: "alice", contractId: h.sandbox.contractDetails.contractId });
    expect(stored?.userAccessToken.accessToken.value).toBe(h.sandbox.latestToken("lib-alice")?.accessToken.value);
    expect(stored?.postboxId !== undefined).toBe(version === "v8");
    await h.client.close();
  });

  it("completes from the pending store when the app opts in and names the signed-in user", async () => {
    const h = setup(version);
    const { url } = await h.client.beginAuthorization({ userId: "bob" });
    const callback = await h.sandbox.consent(url, { libraryId: "lib-bob" });
    await expect(h.client.completeAuthorization(new URL(callback))).rejects.toMatchObject({ code: "STATE_UNKNOWN" });
    await expect(h.client.completeAuthorization(new URL(callback), { allowPendingStore: true, expectedUserId: "bob" })).resolves.toMatchObject({ userId: "bob" });
    await expect(h.client.write("bob", jsonFile(1))).resolves.toMatchObject({ status: "delivered" });
  });

  it("turns a declined consent into AUTHORIZATION_DENIED carrying errorCode", async () => {
    const h = setup(version);
    const { url, sealed } = await h.client.beginAuthorization({ userId: "carol" });
    const callback = await h.sandbox.consent(url, { approve: false });
    const error = await h.client.completeAuthorization(callback, { sealed }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "AUTHORIZATION_DENIED", errorCode: "UserCancelled", userId: "carol" });
    expect(h.events.some((e) => e.name === "authorization:failed")).toBe(true);
    expect(h.sandbox.counters.exchanges).toBe(0);
  });
});

describe("linking a second contract to the same library", () => {
  it("passes the user's existing token from another contract so digi.me links the same library", async () => {
    const h = setup("v16");
    const libraryId = await h.authorize("dave", "lib-dave");
    const readContract = h.sandbox.addContract();
    const { WriteClient } = await import("../../src/index.js");
    const reader = new WriteClient({
      sdk: h.sandbox.sdk("v16"),
      contractDetails: readContract,
      redirectUri: "https://app.example/read/callback",
      tokenStore: h.store,
      now: h.sandbox.now,
    });
    const { url, sealed } = await reader.beginAuthorization({ userId: "dave" });
    // No libraryId given: the sandbox must find the library through the linked token.
    const callback = await h.sandbox.consent(url);
    await reader.completeAuthorization(callback, { sealed });
    const readToken = await h.store.get({ userId: "dave", contractId: readContract.contractId });
    expect(readToken).toBeDefined();
    expect(h.sandbox.libraryIdOf(readToken?.userAccessToken.accessToken.value ?? "")).toBe(libraryId);
    // Both contracts' credentials live side by side in one store.
    expect(await h.store.listByUser("dave")).toHaveLength(2);
  });
});

describe("generation B's limitation", () => {
  it("is announced once through sdk:limitation", async () => {
    const h = setup("v10");
    await h.authorize("erin");
    await h.client.write("erin", jsonFile(1));
    await h.client.write("erin", jsonFile(2));
    const limitations = h.events.filter((e) => e.name === "sdk:limitation");
    expect(limitations).toHaveLength(1);
    expect(limitations[0]?.payload).toMatchObject({ generation: "B", limitation: "refresh-invisible" });
    expect(h.client.sdkGeneration).toBe("B");
  });
});
