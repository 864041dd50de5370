/**
 * The library's own refresher trusts nothing the token endpoint answers
 * until it has verified it: algorithm pinned to PS512, the key set fetched
 * only from the configured API origin, the key found by kid, the signature,
 * expiry and claims checked. A hostile stand-in for digi.me answers with
 * each kind of forgery; none yields a token, each a typed error that quotes
 * nothing it was sent.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { exportJWK, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TokenKeySetUntrustedError, TokenResponseInvalidError } from "../../src/index.js";
import { decide, describeSdkFailure } from "../../src/sdk/sdk-failure.js";
import { createTokenEndpoint } from "../../src/sdk/wire/token-endpoint.js";
import type { UserAccessToken } from "../../src/sdk/types.js";

const keyPair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
const SERVER_KEY = keyPair();
const OTHER_KEY = keyPair();
const CONTRACT_KEY = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "pkcs1", format: "pem" } });
const KID = "server-key-1";
const NOW = Date.UTC(2030, 0, 1);
const inSeconds = (ms: number) => Math.floor(ms / 1000);

interface Served {
  server: Server;
  url: string;
  hits: string[];
  /** What oauth/token answers next. */
  answer: () => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
}

async function serve(keys: () => unknown): Promise<Served> {
  const served: Served = { server: undefined as never, url: "", hits: [], answer: async () => ({ status: 500, body: {} }) };
  served.server = createServer((request, response) => {
    served.hits.push(`${request.method} ${request.url}`);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers }).end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (request.url === "/v1.7/jwks/oauth") return reply(200, keys());
    if (request.url === "/v1.7/oauth/token") {
      request.resume();
      void served.answer().then(({ status, body, headers }) => reply(status, body, headers));
      return;
    }
    reply(404, { error: { code: "NotFound", message: "no" } });
  });
  await new Promise<void>((resolve) => served.server.listen(0, "127.0.0.1", resolve));
  served.url = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}/v1.7/`;
  return served;
}

let digime: Served;
let elsewhere: Served;

beforeAll(async () => {
  const jwk = { ...(await exportJWK(SERVER_KEY.publicKey)), kid: KID, alg: "PS512", use: "sig", pem: SERVER_KEY.publicKey.export({ type: "spki", format: "pem" }).toString() };
  digime = await serve(() => ({ keys: [jwk] }));
  elsewhere = await serve(() => ({ keys: [{ ...jwk, pem: OTHER_KEY.publicKey.export({ type: "spki", format: "pem" }).toString() }] }));
});
afterAll(async () => {
  for (const s of [digime, elsewhere]) await new Promise((resolve) => s.server.close(resolve));
});
beforeEach(() => {
  digime.hits.length = 0;
  elsewhere.hits.length = 0;
});

const grant = (overrides: Record<string, unknown> = {}): JWTPayload => ({
  access_token: { value: "new-access-token-value-0001", expires_on: inSeconds(NOW) + 600 },
  refresh_token: { value: "new-refresh-token-value-0001", expires_on: inSeconds(NOW) + 86_400 },
  sub: "library-1",
  consentid: "consent-1",
  ...overrides,
});

function sign(payload: JWTPayload, options: { key?: KeyObject; kid?: string; jku?: string; exp?: number } = {}): Promise<string> {
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: "PS512", typ: "JWT", kid: options.kid ?? KID, jku: options.jku ?? `${digime.url}jwks/oauth` });
  if (options.exp !== undefined) jwt.setExpirationTime(options.exp);
  return jwt.sign(options.key ?? SERVER_KEY.privateKey);
}

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const CURRENT: UserAccessToken = {
  accessToken: { value: "old-access-token-value-0001", expiry: inSeconds(NOW) - 1 },
  refreshToken: { value: "old-refresh-token-value-0001", expiry: inSeconds(NOW) + 3600 },
};

function refresh() {
  const endpoint = createTokenEndpoint({ applicationId: "app-1", baseUrl: digime.url, timeoutMs: 5000, now: () => NOW });
  return endpoint.refresh({ contractId: "contract-1", privateKey: CONTRACT_KEY.privateKey }, { ...CURRENT, user: { id: "library-1" } });
}

/** The refresh's failure, checked to quote no token or JWT it was given. */
async function refusal(answer: Served["answer"]): Promise<Error> {
  digime.answer = answer;
  const error = await refresh().then(
    () => new Error("the refresh resolved"),
    (e: unknown) => e as Error,
  );
  const text = `${error.message}\n${inspect(error, { depth: Infinity })}`;
  for (const secret of ["new-access-token-value", "new-refresh-token-value", "old-refresh-token-value", "eyJ"]) expect(text).not.toContain(secret);
  return error;
}

describe("an honest answer", () => {
  it("yields the new pair in the SDK's shape, and the key set is fetched once for several refreshes", async () => {
    digime.answer = async () => ({ status: 200, body: { token: await sign(grant()) } });
    const endpoint = createTokenEndpoint({ applicationId: "app-1", baseUrl: digime.url, timeoutMs: 5000, now: () => NOW });
    const contract = { contractId: "contract-1", privateKey: CONTRACT_KEY.privateKey };
    expect(await endpoint.refresh(contract, CURRENT)).toEqual({
      accessToken: { value: "new-access-token-value-0001", expiry: inSeconds(NOW) + 600 },
      refreshToken: { value: "new-refresh-token-value-0001", expiry: inSeconds(NOW) + 86_400 },
      user: { id: "library-1" },
      consentid: "consent-1",
    });
    await endpoint.refresh(contract, CURRENT);
    expect(digime.hits).toEqual(["POST /v1.7/oauth/token", "GET /v1.7/jwks/oauth", "POST /v1.7/oauth/token"]);
  });
});

describe("a forged or broken answer is refused", () => {
  it.each([
    ["unsigned (alg none)", async () => `${segment({ alg: "none", typ: "JWT", kid: KID, jku: `${digime.url}jwks/oauth` })}.${segment(grant())}.`],
    ["signed with another key under digi.me's kid", () => sign(grant(), { key: OTHER_KEY.privateKey })],
    [
      "tampered after signing (payload swapped)",
      async () => {
        const [header, , signature] = (await sign(grant())).split(".");
        return `${header}.${segment(grant({ sub: "someone-else" }))}.${signature}`;
      },
    ],
    ["HS512 with the public key as secret", async () => new SignJWT(grant()).setProtectedHeader({ alg: "HS512", kid: KID, jku: `${digime.url}jwks/oauth` }).sign(SERVER_KEY.publicKey.export({ type: "spki", format: "der" }))],
    ["RS512 instead of PS512", async () => new SignJWT(grant()).setProtectedHeader({ alg: "RS512", kid: KID, jku: `${digime.url}jwks/oauth` }).sign(SERVER_KEY.privateKey)],
    ["a kid not in the key set", () => sign(grant(), { kid: "unknown-key" })],
    ["no jku in the header", async () => new SignJWT(grant()).setProtectedHeader({ alg: "PS512", kid: KID }).sign(SERVER_KEY.privateKey)],
    ["an expired JWT", () => sign(grant(), { exp: inSeconds(Date.now()) - 3600 })],
    ["no refresh_token claim", () => sign(grant({ refresh_token: undefined }))],
    ["a refresh_token without value", () => sign(grant({ refresh_token: { expires_on: inSeconds(NOW) + 60 } }))],
    ["expiry in milliseconds as a string", () => sign(grant({ access_token: { value: "new-access-token-value-0001", expires_on: String(NOW + 600_000) } }))],
    ["a pair whose refresh token has already expired", () => sign(grant({ refresh_token: { value: "new-refresh-token-value-0001", expires_on: inSeconds(NOW) - 1 } }))],
    ["a pair whose access token has already expired", () => sign(grant({ access_token: { value: "new-access-token-value-0001", expires_on: inSeconds(NOW) - 1 } }))],
    ["not a JWT at all", async () => "new-access-token-value-0001"],
    ["a pair for another library (sub)", () => sign(grant({ sub: "library-2" }))],
  ])("%s: TOKEN_RESPONSE_INVALID", async (_name, token) => {
    const error = await refusal(async () => ({ status: 200, body: { token: await token() } }));
    expect(error).toBeInstanceOf(TokenResponseInvalidError);
    expect(error).toMatchObject({ code: "TOKEN_RESPONSE_INVALID", retryable: false });
  });

  it("an answer without a token: TOKEN_RESPONSE_INVALID", async () => {
    for (const body of [{}, { token: 42 }, "not json", ""]) {
      expect(await refusal(async () => ({ status: 200, body }))).toMatchObject({ code: "TOKEN_RESPONSE_INVALID" });
    }
  });

  it("a key set outside the API origin is never fetched: TOKEN_KEY_SET_UNTRUSTED", async () => {
    for (const jku of [`${elsewhere.url}jwks/oauth`, `https://127.0.0.1:${new URL(digime.url).port}/v1.7/jwks/oauth`, "https://evil.example/jwks"]) {
      const error = await refusal(async () => ({ status: 200, body: { token: await sign(grant(), { jku, key: OTHER_KEY.privateKey }) } }));
      expect(error).toBeInstanceOf(TokenKeySetUntrustedError);
      expect(error).toMatchObject({ code: "TOKEN_KEY_SET_UNTRUSTED", keySetOrigin: new URL(jku).origin });
    }
    expect(elsewhere.hits).toEqual([]);
    expect(digime.hits.filter((hit) => hit.startsWith("GET"))).toEqual([]);
  });
});

describe("an answer that is an error fails as the SDK's would, so the pipeline decides the same", () => {
  it("401 InvalidToken (a spent refresh token) means the token is unusable", async () => {
    const error = await refusal(async () => ({ status: 401, body: { error: { code: "InvalidToken", message: "The token (refresh_token) is invalid" } } }));
    const info = describeSdkFailure(error, [], NOW);
    expect(info).toMatchObject({ kind: "http", httpStatus: 401, sdkErrorCode: "InvalidToken" });
    expect(decide(info)).toBe("invalid-token");
  });

  it("503 with Retry-After is retried after the delay", async () => {
    const error = await refusal(async () => ({ status: 503, body: "", headers: { "retry-after": "2" } }));
    const info = describeSdkFailure(error, [], NOW);
    expect(info).toMatchObject({ kind: "http", httpStatus: 503, retryAfterMs: 2000 });
    expect(decide(info)).toBe("retry");
  });

  it("a connection that dies is retried", async () => {
    digime.answer = () => new Promise(() => digime.server.closeAllConnections());
    const error = await refusal(digime.answer);
    const info = describeSdkFailure(error, [], NOW);
    expect(info.kind).toBe("network");
    expect(decide(info)).toBe("retry");
  });
});
