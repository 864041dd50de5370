/**
 * The encrypted-store example (examples/encrypted-token-store.ts): keys from
 * the environment, the token file holds no token value, a rotated list still
 * opens old records, and a missing key is a clear INVALID_OPTIONS.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tokenStoreFromEnv } from "../../examples/encrypted-token-store.js";
import { TokenRecordSealError } from "../../src/index.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("the encrypted token store example", () => {
  it("keeps the token file free of token values, and reads them back after a key rotation", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "digime-encrypted-example-"));
    dirs.push(dir);
    const file = path.join(dir, "tokens.json");
    const oldKey = randomBytes(32).toString("base64");
    const newKey = randomBytes(32).toString("base64");
    const store = tokenStoreFromEnv({ DIGIME_TOKEN_FILE: file, DIGIME_TOKEN_KEYS: oldKey });
    const access = randomBytes(24).toString("base64url");
    const refresh = randomBytes(24).toString("base64url");
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const key = { userId: "alice", contractId: "c1" };
    await store.set(key, { userAccessToken: { accessToken: { value: access, expiry }, refreshToken: { value: refresh, expiry } } }, { expectedVersion: null });
    const onDisk = await readFile(file, "utf8");
    expect(onDisk).not.toContain(access);
    expect(onDisk).not.toContain(refresh);
    const rotated = tokenStoreFromEnv({ DIGIME_TOKEN_FILE: file, DIGIME_TOKEN_KEYS: `${newKey},${oldKey}` });
    expect((await rotated.get(key))?.userAccessToken.accessToken.value).toBe(access);
    // Another key alone cannot read them.
    await expect(tokenStoreFromEnv({ DIGIME_TOKEN_FILE: file, DIGIME_TOKEN_KEYS: newKey }).get(key)).rejects.toBeInstanceOf(TokenRecordSealError);
  });

  it("refuses to start without a key", () => {
    expect(() => tokenStoreFromEnv({ DIGIME_TOKEN_FILE: "/tmp/never.json" })).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
  });
});
