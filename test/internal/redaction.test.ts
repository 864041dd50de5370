/**
 * What the redaction helpers promise: secrets go whole and in part, the
 * contract key goes in every form, and codes copied from foreign errors are
 * short identifiers or nothing.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pemSecrets, redact } from "../../src/internal/redact.js";
import { describeSdkFailure } from "../../src/sdk/sdk-failure.js";

const token = randomBytes(32).toString("base64url");
const pem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const body = pem.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));

describe("redact", () => {
  it("removes a secret, a truncated copy of it, and any fragment of 8 or more of its characters", () => {
    for (const text of [`token ${token} rejected`, `token ${token.slice(0, 20)}… rejected`, `id=${token.slice(5, 17)}`, `x${token.slice(0, 12)}yz`]) {
      const out = redact(text, [token]);
      expect(out).toContain("[redacted]");
      for (let i = 0; i + 8 <= token.length; i += 1) expect(out).not.toContain(token.slice(i, i + 8));
    }
  });

  it("removes the private key in any form: armoured, its joined base64 body, or one line of it", () => {
    for (const text of [`signed with ${pem}`, `key=${body.join("")}`, `line: ${body[3]}`]) {
      const out = redact(text, pemSecrets(pem));
      for (const line of body) expect(out).not.toContain(line.slice(0, 16));
    }
  });

  it("turns control characters into spaces, so a message cannot forge a log line", () => {
    expect(redact("failed\r\n2030-01-01 INFO all good\u001b[31m")).toBe("failed  2030-01-01 INFO all good [31m");
  });
});

describe("codes copied from SDK errors", () => {
  const failure = (code: unknown, body?: unknown) =>
    describeSdkFailure(Object.assign(new Error("Bad Request"), { name: "HTTPError", response: { statusCode: 400, headers: {}, body }, error: code === undefined ? undefined : { code } }), [token], 0);

  it("keep a digi.me code as it is", () => {
    expect(failure("InvalidToken").sdkErrorCode).toBe("InvalidToken");
    expect(failure(undefined, JSON.stringify({ error: { code: "InvalidRequest" } })).sdkErrorCode).toBe("InvalidRequest");
  });

  it.each([
    ["a code holding a known token", token],
    ["a body code holding a known token", undefined, JSON.stringify({ error: { code: token } })],
    ["a code with a line break", "InvalidToken\r\nINFO forged"],
    ["a code longer than 64 characters", "E".repeat(65)],
    ["a huge body", undefined, JSON.stringify({ error: { code: "InvalidRequest" }, pad: "x".repeat(70_000) })],
  ])("drop %s", (_name, code, body?: unknown) => {
    expect(failure(code, body).sdkErrorCode).toBeUndefined();
  });
});

describe("redaction with every token a busy client has seen (thousands of secrets, matched through an index)", () => {
  const tokens = Object.freeze(Array.from({ length: 5000 }, (_, i) => `tok${i}-${"Q".repeat(8)}${(i * 7919).toString(36)}-abcdefghijklmnop${i}`));

  it("redacts a whole token, its first characters, its last characters and a token glued to other text", () => {
    const t = tokens[4321]!;
    for (const text of [`token ${t} refused`, `first 20: ${t.slice(0, 20)}`, `tail ${t.slice(-14)}`, `x=${t}suffix`]) {
      expect(redact(text, tokens)).not.toContain(t.slice(0, 12));
      expect(redact(text, tokens)).not.toContain(t.slice(-12));
    }
    expect(redact(`token ${t} refused`, tokens)).toBe("token [redacted] refused");
  });

  it("leaves ordinary words alone", () => {
    expect(redact("digi.me rejected the write: HTTP 400 BadRequest", tokens)).toBe("digi.me rejected the write: HTTP 400 BadRequest");
  });
});
