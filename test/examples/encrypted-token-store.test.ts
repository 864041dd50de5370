/**
 * The encrypting wrapper store from docs/token-stores.md keeps the TokenStore
 * contract over the built-in stores, and the token file it leads to holds no
 * token value.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EncryptedTokenStore } from "../../examples/encrypted-token-store.js";
import { FileTokenStore, MemoryTokenStore } from "../../src/index.js";
import { tokenStoreContract } from "../../src/testing/index.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("EncryptedTokenStore over MemoryTokenStore passes the TokenStore contract", () => {
  for (const c of tokenStoreContract(() => new EncryptedTokenStore(new MemoryTokenStore(), randomBytes(32)), { leases: true })) it(c.name, c.run);
});

describe("EncryptedTokenStore over FileTokenStore", () => {
  it("stores the tokens encrypted: the file holds neither value, and they read back as they were", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "digime-encrypted-"));
    dirs.push(dir);
    const file = path.join(dir, "tokens.json");
    const store = new EncryptedTokenStore(new FileTokenStore({ path: file }), randomBytes(32));
    const access = randomBytes(24).toString("base64url");
    const refresh = randomBytes(24).toString("base64url");
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const key = { userId: "alice", contractId: "c1" };
    await store.set(key, { userAccessToken: { accessToken: { value: access, expiry }, refreshToken: { value: refresh, expiry } } }, { expectedVersion: null });
    const onDisk = await readFile(file, "utf8");
    expect(onDisk).not.toContain(access);
    expect(onDisk).not.toContain(refresh);
    const back = await store.get(key);
    expect(back?.userAccessToken.accessToken.value).toBe(access);
    expect(back?.userAccessToken.refreshToken.value).toBe(refresh);
    // Another key cannot read them.
    await expect(new EncryptedTokenStore(new FileTokenStore({ path: file }), randomBytes(32)).get(key)).rejects.toThrow();
  });
});
