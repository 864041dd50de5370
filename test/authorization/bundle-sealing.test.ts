import { describe, expect, it } from "vitest";
import { createSealer } from "../../src/authorization/seal.js";

const oldSecret = "old-secret-old-secret-old-secret-0001";
const newSecret = "new-secret-new-secret-new-secret-0002";
const bundle = { state: "s".repeat(43), codeVerifier: "verifier-value-123", userId: "alice", contractId: "c", expiresAt: 1 };

describe("sealed authorization bundles", () => {
  it("open to exactly what was sealed, and hide the code verifier", async () => {
    const sealer = createSealer([newSecret]);
    const sealed = await sealer.seal(bundle);
    expect(sealed).not.toContain("verifier-value-123");
    expect(Buffer.from(sealed.split(".")[0] ?? "", "base64url").toString()).not.toContain("verifier");
    expect(await sealer.open(sealed)).toEqual({ ok: true, payload: bundle });
  });

  it("refuse any single-character change anywhere in the sealed string", async () => {
    const sealer = createSealer([newSecret]);
    const sealed = await sealer.seal(bundle);
    for (let i = 0; i < sealed.length; i += 7) {
      const c = sealed[i] === "A" ? "B" : "A";
      const altered = sealed.slice(0, i) + c + sealed.slice(i + 1);
      if (altered === sealed) continue;
      const result = await sealer.open(altered);
      expect(result.ok, `change at ${i}`).toBe(false);
    }
  });

  it("rotate keys: an old bundle opens while its secret is listed, and not after", async () => {
    const sealedUnderOld = await createSealer([oldSecret]).seal(bundle);
    expect((await createSealer([newSecret, oldSecret]).open(sealedUnderOld)).ok).toBe(true);
    expect(await createSealer([newSecret]).open(sealedUnderOld)).toEqual({ ok: false, reason: "tampered" });
    // New bundles are sealed under the first secret.
    const sealedNew = await createSealer([newSecret, oldSecret]).seal(bundle);
    expect((await createSealer([newSecret]).open(sealedNew)).ok).toBe(true);
  });

  it("name no key in the header, so one cookie gives nothing to test secret guesses against but the ciphertext", async () => {
    const sealedA = await createSealer([oldSecret]).seal(bundle);
    const sealedB = await createSealer([newSecret]).seal(bundle);
    const header = (sealed: string) => JSON.parse(Buffer.from(sealed.split(".")[0] ?? "", "base64url").toString()) as unknown;
    expect(header(sealedA)).toEqual({ alg: "dir", enc: "A256GCM" });
    // Different secrets, same header: nothing in it depends on the key.
    expect(sealedA.split(".")[0]).toBe(sealedB.split(".")[0]);
  });

  it("report garbage as malformed", async () => {
    expect(await createSealer([newSecret]).open("not-a-jwe")).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("the sealing key comes from a memory-hard KDF", () => {
  it("a sealed bundle opens under HKDF(scrypt(secret, N=2^16, r=8)), not under the fast HKDF(secret) used before", async () => {
    const { scryptSync, hkdfSync } = await import("node:crypto");
    const { compactDecrypt } = await import("jose");
    const secret = "q3Lr8WfVx1pZ0nT6yKc2bM9sHj4gD7aE5uR0oI8vN1Q";
    const sealed = await createSealer([secret]).seal({ hello: "world" });
    const root = scryptSync(secret, "digime-write-pipeline/state-secret v2", 32, { N: 2 ** 16, r: 8, p: 1, maxmem: 160 * 1024 * 1024 });
    const key = new Uint8Array(hkdfSync("sha256", root, "digime-write-pipeline/authorization-bundle", "A256GCM v2", 32));
    const opened = await compactDecrypt(sealed, key);
    expect(JSON.parse(new TextDecoder().decode(opened.plaintext))).toEqual({ hello: "world" });
    const fast = new Uint8Array(hkdfSync("sha256", secret, "digime-write-pipeline/authorization-bundle", "A256GCM v1", 32));
    await expect(compactDecrypt(sealed, fast)).rejects.toThrow();
  });

  it("states carry a MAC: the sealer's own verify, another secret's do not", async () => {
    const secret = "q3Lr8WfVx1pZ0nT6yKc2bM9sHj4gD7aE5uR0oI8vN1Q";
    const other = "Zt7mC2xQ9rV4kP1wL8nB6yF3hJ0dS5gA2eU7oT4iM9c";
    const state = await createSealer([secret]).newState();
    expect(state).toMatch(/^[A-Za-z0-9_-]{54}$/);
    expect(await createSealer([secret]).checkState(state)).toBe(true);
    expect(await createSealer([other, secret]).checkState(state)).toBe(true);
    expect(await createSealer([other]).checkState(state)).toBe(false);
    // One bit changed anywhere: refused.
    const flipped = state.slice(0, 10) + (state[10] === "A" ? "B" : "A") + state.slice(11);
    expect(await createSealer([secret]).checkState(flipped)).toBe(false);
  });
});
