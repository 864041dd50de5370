import { describe, expect, it } from "vitest";
import { decide, describeSdkFailure, mayHaveBeenProcessed, parseRetryAfter } from "../../src/sdk/sdk-failure.js";

function named(name: string, fields: Record<string, unknown>, message = "boom"): Error {
  return Object.assign(Object.assign(new Error(message), { name }), fields);
}
const serverError = (statusCode: number | undefined, code: string) => named("DigiMeServerError", { error: { code, message: "m", statusCode } });
const httpError = (statusCode: number, headers: Record<string, string> = {}, body: unknown = "") =>
  named("HTTPError", { code: "ERR_NON_2XX_3XX_RESPONSE", response: { statusCode, headers, body } });
const requestError = (code: string) => named("RequestError", { code });

describe("what the pipeline does with each SDK failure", () => {
  it.each([
    ["a TypeValidationError", named("TypeValidationError", {}), "reject"],
    ["an SDKInvalidError", named("SDKInvalidError", { error: { code: "SDKVersionInvalid", statusCode: 400 } }), "reject"],
    ["a 503 HTTPError", httpError(503), "retry"],
    ["a 500 ServerError", serverError(500, "InternalError"), "retry"],
    ["a 429", httpError(429, { "retry-after": "3" }), "retry"],
    ["a 408", httpError(408), "retry"],
    ["a 400 ServerError", serverError(400, "InvalidRequest"), "reject"],
    ["a 403", httpError(403), "reject"],
    ["a 404 ServerError", serverError(404, "NotFound"), "reject"],
    ["a 401 InvalidToken", serverError(401, "InvalidToken"), "invalid-token"],
    ["a status-less ServerError InternalServerError (SDK ≤ 10)", serverError(undefined, "InternalServerError"), "retry"],
    ["a status-less ServerError ServiceUnavailable (SDK ≤ 10)", serverError(undefined, "ServiceUnavailable"), "retry"],
    ["a status-less ServerError InvalidRequest (SDK ≤ 10)", serverError(undefined, "InvalidRequest"), "reject"],
    ["a status-less ServerError InvalidToken (SDK ≤ 10)", serverError(undefined, "InvalidToken"), "invalid-token"],
    ["a 401 without a body", httpError(401), "invalid-token"],
    ["a 401 InvalidClient", serverError(401, "InvalidClient"), "reject"],
    ["ECONNRESET", requestError("ECONNRESET"), "retry"],
    ["ETIMEDOUT", requestError("ETIMEDOUT"), "retry"],
    ["ECONNREFUSED", requestError("ECONNREFUSED"), "retry"],
    ["EAI_AGAIN", requestError("EAI_AGAIN"), "retry"],
    ["ENOTFOUND", requestError("ENOTFOUND"), "reject"],
    ["got's code-less request error", requestError("ERR_GOT_REQUEST_ERROR"), "retry"],
    ["a got TimeoutError", named("TimeoutError", {}), "retry"],
    ["an unknown error", new Error("what"), "reject"],
  ])("%s → %s", (_name, thrown, expected) => {
    expect(decide(describeSdkFailure(thrown, [], 0))).toBe(expected);
  });

  it("reads digi.me's error code from an HTTPError body", () => {
    const info = describeSdkFailure(httpError(401, {}, JSON.stringify({ error: { code: "InvalidToken", message: "x" } })), [], 0);
    expect(info.sdkErrorCode).toBe("InvalidToken");
  });

  it("honours Retry-After in seconds and as a date", () => {
    expect(describeSdkFailure(httpError(429, { "retry-after": "2" }), [], 0).retryAfterMs).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });

  it("marks resets and timeouts as possibly processed, refusals as not", () => {
    expect(mayHaveBeenProcessed(describeSdkFailure(requestError("ECONNRESET"), [], 0))).toBe(true);
    expect(mayHaveBeenProcessed(describeSdkFailure(requestError("ECONNREFUSED"), [], 0))).toBe(false);
    expect(mayHaveBeenProcessed(describeSdkFailure(httpError(503), [], 0))).toBe(false);
  });

  it("scrubs token values, JWTs and keys from messages", () => {
    const jwt = "eyJhbGciOiJQUzUxMiJ9.eyJhY2Nlc3NfdG9rZW4iOiJ4In0.c2lnbmF0dXJl";
    const thrown = new Error(`failed with at_secret_value_123 and Bearer ${jwt} -----BEGIN RSA PRIVATE KEY-----abc-----END RSA PRIVATE KEY-----`);
    const info = describeSdkFailure(thrown, ["at_secret_value_123"], 0);
    expect(info.message).not.toContain("at_secret_value_123");
    expect(info.message).not.toContain(jwt);
    expect(info.message).not.toContain("abc");
  });
});
