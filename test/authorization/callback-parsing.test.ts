import { describe, expect, it } from "vitest";
import { parseCallback } from "../../src/authorization/callback.js";
import { ValidationError } from "../../src/errors.js";

const state = "s".repeat(43);
const pem = "-----BEGIN RSA PUBLIC KEY-----\nMIIB\n-----END RSA PUBLIC KEY-----\n";

function expectInvalid(input: Parameters<typeof parseCallback>[0], path: string): void {
  try {
    parseCallback(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe("INVALID_CALLBACK");
    expect((error as ValidationError).issues.map((i) => i.path)).toContain(path);
    expect((error as Error).message).toContain(path);
    return;
  }
  throw new Error(`expected ${JSON.stringify(String(input))} to be refused`);
}

describe("callback parsing accepts every form an app holds the callback in", () => {
  const query = `success=true&code=abc&state=${state}&postboxId=pb1&publicKey=${encodeURIComponent(pem)}`;
  const expected = { success: true, code: "abc", state, postboxId: "pb1", publicKey: pem };

  it("reads a full URL string, a URL, URLSearchParams and a query object alike", () => {
    expect(parseCallback(`https://app.example/cb?${query}`)).toMatchObject(expected);
    expect(parseCallback(new URL(`https://app.example/cb?${query}#frag`))).toMatchObject(expected);
    expect(parseCallback(new URLSearchParams(query))).toMatchObject(expected);
    expect(parseCallback({ success: "true", code: "abc", state, postboxId: "pb1", publicKey: pem })).toMatchObject(expected);
  });

  it("reads a failure callback as digi.me documents it: success=false and errorCode, no state", () => {
    // SDK repository, documents/create-user/authorizing.md, "On failure": only `success` and `errorCode`.
    expect(parseCallback("https://app.example/cb?success=false&errorCode=UserCancelled")).toEqual({ success: false, errorCode: "UserCancelled" });
  });

  it("reads a failure callback with its errorCode and a state when one is present", () => {
    expect(parseCallback(`https://app.example/cb?success=false&errorCode=UserCancelled&state=${state}`)).toEqual({
      success: false,
      errorCode: "UserCancelled",
      state,
    });
  });

  it("ignores unknown and prototype-polluting parameters", () => {
    const query = JSON.parse(`{"success":"true","code":"abc","state":"${state}","__proto__":{"code":"evil"},"extra":"x"}`) as Record<string, unknown>;
    expect(parseCallback(query)).toEqual({ success: true, code: "abc", state });
  });
});

describe("callback parsing refuses malformed callbacks, naming the field", () => {
  it.each([
    ["a missing success flag", `code=abc&state=${state}`, "callback.success"],
    ["a success flag that is neither true nor false", `success=yes&code=abc&state=${state}`, "callback.success"],
    ["a missing code", `success=true&state=${state}`, "callback.code"],
    ["a missing state", "success=true&code=abc", "callback.state"],
    ["a short state", "success=true&code=abc&state=short", "callback.state"],
    ["a state with foreign characters", `success=true&code=abc&state=${"%3C".repeat(20)}`, "callback.state"],
    ["a duplicated state", `success=true&code=abc&state=${state}&state=${state}`, "callback.state"],
    ["a public key that is not PEM", `success=true&code=abc&state=${state}&postboxId=p&publicKey=xyz`, "callback.publicKey"],
    ["a failure without errorCode", `success=false&state=${state}`, "callback.errorCode"],
    ["a failure with a state that is not base64url", "success=false&errorCode=UserCancelled&state=a%20b", "callback.state"],
    ["an errorCode with CR/LF (a forged log line)", `success=false&errorCode=UserCancelled%0D%0A2030-01-01%20INFO%20ok&state=${state}`, "callback.errorCode"],
    ["an errorCode with an escape sequence", `success=false&errorCode=%1B%5B31mred&state=${state}`, "callback.errorCode"],
    ["an errorCode longer than 64 characters", `success=false&errorCode=${"E".repeat(65)}&state=${state}`, "callback.errorCode"],
    ["a code with a line break", `success=true&code=ab%0Acd&state=${state}`, "callback.code"],
    ["a postboxId with a control character", `success=true&code=abc&state=${state}&postboxId=p%07b&publicKey=x`, "callback.postboxId"],
  ])("%s", (_name, query, path) => {
    expectInvalid(`https://app.example/cb?${query}`, path);
  });

  it("refuses an oversized callback before parsing it", () => {
    expectInvalid(`https://app.example/cb?success=true&code=${"a".repeat(20_000)}&state=${state}`, "callback.url");
  });

  it("refuses array values from a parsed query object", () => {
    expectInvalid({ success: "true", code: ["a", "b"], state }, "callback.code");
  });

  it("refuses something that is not a callback at all", () => {
    expectInvalid(42 as unknown as string, "callback.url");
  });
});
