/**
 * `stateSecret` must carry at least 256 bits of entropy: 32 random bytes as
 * base64 or hex are accepted, guessable strings are refused with a message
 * that says how to make a good one and never quotes the secret.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryTokenStore, ValidationError, WriteClient } from "../../src/index.js";
import { createSandbox } from "../../src/testing/index.js";
import { REDIRECT_URI } from "../support/setup.js";

const sandbox = createSandbox();
const make = (stateSecret: string | string[]) =>
  new WriteClient({ sdk: sandbox.sdk("v16"), contractDetails: sandbox.contractDetails, redirectUri: REDIRECT_URI, tokenStore: new MemoryTokenStore(), stateSecret });

describe("stateSecret strength", () => {
  it("accepts 32 or more random bytes as base64, base64url or hex, every time", async () => {
    for (let i = 0; i < 200; i += 1) {
      for (const secret of [randomBytes(32).toString("base64"), randomBytes(32).toString("base64url"), randomBytes(32).toString("hex"), randomBytes(64).toString("base64url")]) {
        await make(secret).close();
      }
    }
  });

  it.each([
    ["32 × a", "a".repeat(32)],
    ["43 × a (the length of base64 of 32 bytes)", "a".repeat(43)],
    ["a repeated password", "hunter2!".repeat(6)],
    ["a repeated base64-looking password", "Passw0rd".repeat(6)],
    ["64 hex characters of a repeated word", "deadbeef".repeat(8)],
    ["a counting hex string", "0123456789abcdef".repeat(4)],
    ["24 random bytes (192 bits)", randomBytes(24).toString("base64url")],
    ["base64 of a long passphrase", Buffer.from("correct horse battery staple, winter 2024!").toString("base64")],
    ["base64url of a passphrase with a trailing newline", Buffer.from("my very secret company passphrase 2024\n").toString("base64url")],
    ["hex of a sentence", Buffer.from("the quick brown fox jumps over the lazy dog").toString("hex")],
    ["a keyboard run", "qwertyuiopasdfghjklzxcvbnm1234567890QWERTYUIOP"],
    ["a passphrase typed as if it were base64", "thequickbrownfoxjumpsoverthelazydog1234567890"],
  ])("refuses %s, naming the field and how to generate a secret, without quoting it", (_name, secret) => {
    let error: unknown;
    try {
      make(secret);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const message = (error as ValidationError).message;
    expect(message).toContain("options.stateSecret");
    expect(message).toContain("randomBytes(32)");
    expect(message).not.toContain(secret);
  });

  it("checks every secret of a rotation list", () => {
    expect(() => make([randomBytes(32).toString("base64url"), "b".repeat(43)])).toThrow(/options\.stateSecret\[1\]/);
  });
});
