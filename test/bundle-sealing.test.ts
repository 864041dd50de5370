import { describe, expect, it } from "vitest";
import { createSealer } from "../src/authorization/seal.js";

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
