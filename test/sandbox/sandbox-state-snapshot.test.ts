import { describe, expect, it } from "vitest";
import { MemoryTokenStore, WriteClient } from "../../src/index.js";
import { createSandbox, type SandboxSnapshot } from "../../src/testing/index.js";

const REDIRECT = "https://app.example/digime/callback";
const file = (text: string) => ({
  fileData: Buffer.from(text),
  fileName: `${text}.txt`,
  fileDescriptor: { mimeType: "text/plain", accounts: [{ accountId: "notes" }], reference: [`${text}.txt`] },
});

describe("a sandbox saved with exportState() and restored with createSandbox({ state })", () => {
  it("keeps the contract, the libraries and the tokens, so stored credentials keep working in a new process", async () => {
    const first = createSandbox();
    const tokenStore = new MemoryTokenStore();
    const client = new WriteClient({ sdk: first.sdk("v16"), contractDetails: first.contractDetails, redirectUri: REDIRECT, tokenStore });
    const { url, sealed } = await client.beginAuthorization({ userId: "alice" });
    await client.completeAuthorization(await first.consent(url), { sealed });
    await client.write("alice", file("before"));
    await client.close();

    // Through JSON, as a file would carry it.
    const saved = JSON.parse(JSON.stringify(first.exportState())) as SandboxSnapshot;
    const second = createSandbox({ state: saved });
    expect(second.applicationId).toBe(first.applicationId);
    expect(second.contractDetails).toEqual(first.contractDetails);
    const libraryId = first.libraries()[0]!.id;
    expect(second.library(libraryId)).toEqual({ id: libraryId, files: [] }); // files are not saved
    expect(second.latestToken(libraryId)).toEqual(first.latestToken(libraryId));

    const again = new WriteClient({ sdk: second.sdk("v16"), contractDetails: second.contractDetails, redirectUri: REDIRECT, tokenStore });
    expect((await again.authorizationStatus("alice")).status).toBe("authorized");
    await again.write("alice", file("after"));
    second.expireAccessTokens();
    await again.write("alice", file("after-refresh"));
    await again.close();
    expect(second.library(libraryId)!.files.map((f) => f.fileDescriptor.reference?.[0])).toEqual(["after.txt", "after-refresh.txt"]);
    expect(second.counters.exchanges).toBe(0);
    expect(second.counters.refreshes).toBe(1);
  });

  it("keeps a generation A postbox, so postbox writes still reach the library", async () => {
    const first = createSandbox();
    const tokenStore = new MemoryTokenStore();
    const options = { contractDetails: first.contractDetails, redirectUri: REDIRECT, tokenStore };
    const client = new WriteClient({ ...options, sdk: first.sdk("v8") });
    const { url, sealed } = await client.beginAuthorization({ userId: "bob" });
    await client.completeAuthorization(await first.consent(url), { sealed });
    await client.close();

    const second = createSandbox({ state: first.exportState() });
    const again = new WriteClient({ ...options, contractDetails: second.contractDetails, sdk: second.sdk("v8") });
    const receipt = await again.write("bob", file("postbox"));
    await again.close();
    expect(receipt.status).toBe("delivered");
    expect(second.libraries()[0]!.files).toHaveLength(1);
  });

  it("leaves out token pairs that can no longer be used, and keeps spent refresh tokens spent", async () => {
    const sandbox = createSandbox();
    const client = new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT, tokenStore: new MemoryTokenStore() });
    const { url, sealed } = await client.beginAuthorization({ userId: "carol" });
    await client.completeAuthorization(await sandbox.consent(url), { sealed });
    sandbox.expireAccessTokens();
    await client.write("carol", file("rotates"));
    await client.close();
    const snapshot = sandbox.exportState();
    // The first pair: access revoked, refresh spent. Only the rotated pair is kept.
    expect(snapshot.tokens).toHaveLength(1);
    expect(snapshot.tokens[0]!.refreshUsed).toBe(false);
  });

  it("refuses a value that is not a snapshot, naming the problem", () => {
    expect(() => createSandbox({ state: {} as SandboxSnapshot })).toThrow(/state is not a sandbox snapshot at format/);
    const snapshot = createSandbox().exportState();
    expect(() => createSandbox({ state: { ...snapshot, defaultContractId: "nope" } })).toThrow(/defaultContractId/);
  });

  it("shows no keys or tokens when the sandbox itself is printed, even after a restore", () => {
    const sandbox = createSandbox({ state: createSandbox().exportState() });
    expect(JSON.stringify(sandbox)).not.toMatch(/PRIVATE KEY/);
  });
});
