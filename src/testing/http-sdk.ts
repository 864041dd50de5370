/**
 * A generation-C SDK that speaks digi.me's wire protocol to a base URL: what
 * a test needs when the sandbox runs in another process (`sandbox.listen()`)
 * and several processes must share its state, which the in-process fakes
 * cannot. It behaves as SDK 16.x does where the library can tell: a 401
 * (`InvalidToken`, or without a body) inside `pushData` makes it refresh
 * once and push once more, and the new pair reaches `onAccessTokenChange`
 * only when that second push succeeds; errors have the SDK's shapes
 * (`HTTPError` with `response.statusCode`, `RequestError` with `code`,
 * `TypeValidationError`).
 * @module
 */
import { createHash, createPrivateKey } from "node:crypto";
import { Readable } from "node:stream";
import { SignJWT } from "jose";
import type {
  ContractDetails,
  SdkExchangeCodeOptions,
  SdkGetAuthorizeUrlOptions,
  SdkGetAuthorizeUrlResult,
  SdkPushDataOptions,
  SdkRefreshTokenOptions,
  UserAccessToken,
} from "../sdk/types.js";
import { callDigime, WireHttpError } from "../sdk/wire/http.js";
import { randomAlphanumeric, signRequestJwt } from "../sdk/wire/signing.js";
import { createTokenEndpoint, DEFAULT_DIGIME_TIMEOUT_MS } from "../sdk/wire/token-endpoint.js";
import { createTokenVerifier } from "../sdk/wire/token-verification.js";
import type { SandboxSdkV16 } from "./sandbox/fakes/generation-c.js";
import { TypeValidationError } from "./sandbox/sdk-errors.js";

/** The SDK version this SDK presents itself as (the sandbox reads the generation from it). */
const PRESENTED_VERSION = "16.1.5";

/**
 * Options of {@link createHttpSdk}: what the real SDK's `init()` takes.
 *
 * @example
 * ```ts
 * const options: HttpSdkOptions = { applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl };
 * ```
 */
export interface HttpSdkOptions {
  /** The application id (`sandbox.applicationId`). */
  applicationId: string;
  /** The API root, ending in `/` (`sandbox.baseUrl` while it listens, or `server.baseUrl`). */
  baseUrl: string;
  /** The consent UI root, ending in `/` (`sandbox.onboardUrl`). */
  onboardUrl: string;
  /**
   * Per request, ms. Default 30,000.
   * @defaultValue `30_000`
   */
  timeoutMs?: number;
}

function checkUrl(name: string, value: unknown): string {
  if (typeof value !== "string" || !URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new TypeError(`createHttpSdk: ${name} must be an absolute http(s) URL`);
  }
  return value.endsWith("/") ? value : `${value}/`;
}

function isContract(value: unknown): value is ContractDetails {
  const contract = value as Partial<ContractDetails> | undefined;
  return typeof contract === "object" && contract !== null && typeof contract.contractId === "string" && typeof contract.privateKey === "string";
}

function isToken(value: unknown): value is UserAccessToken {
  const token = value as Partial<UserAccessToken> | undefined;
  return (
    typeof token === "object" &&
    token !== null &&
    typeof token.accessToken?.value === "string" &&
    typeof token.accessToken.expiry === "number" &&
    typeof token.refreshToken?.value === "string" &&
    typeof token.refreshToken.expiry === "number"
  );
}

async function bytesOf(fileData: unknown): Promise<Buffer> {
  if (Buffer.isBuffer(fileData)) return fileData;
  if (fileData instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of fileData) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    return Buffer.concat(chunks);
  }
  throw new TypeValidationError("Data object failed type validation. Is fileData, fileName, fileDescriptor set correctly?");
}

/** SDK 16.x refreshes on a 401 that is `InvalidToken` or has no digi.me error body; anything else is thrown. */
function callsForRefresh(error: unknown): boolean {
  return error instanceof WireHttpError && error.response.statusCode === 401 && (error.error.code === undefined || error.error.code === "InvalidToken");
}

/**
 * A generation-C SDK over HTTP: `getAuthorizeUrl`, `exchangeCodeForToken`,
 * `pushData` (library pushes, with the refresh-and-retry-once of SDK 16.x)
 * and `refreshToken`, talking to `baseUrl` as the real SDK does. Use it where
 * the real SDK is not installed and the sandbox's in-process fakes cannot
 * reach the state (another process). A `Readable` `fileData` is read into
 * memory first, so the push after a refresh can send it again.
 *
 * @example
 * ```ts
 * import { createHttpSdk, createSandbox } from "digime-write-pipeline/testing";
 *
 * const sandbox = createSandbox();
 * const server = await sandbox.listen();
 * // In this process or in a worker, given the three values:
 * const sdk = createHttpSdk({ applicationId: sandbox.applicationId, baseUrl: server.baseUrl, onboardUrl: server.onboardUrl });
 * const client = new WriteClient({ sdk, contractDetails: sandbox.contractDetails, redirectUri, tokenStore });
 * ```
 * @throws TypeError when an option is missing or not an absolute http(s) URL.
 */
export function createHttpSdk(options: HttpSdkOptions): SandboxSdkV16 {
  if (typeof options !== "object" || options === null) throw new TypeError("createHttpSdk: options must be an object");
  if (typeof options.applicationId !== "string" || options.applicationId === "") throw new TypeError("createHttpSdk: applicationId must be a non-empty string");
  const baseUrl = checkUrl("baseUrl", options.baseUrl);
  const onboardUrl = checkUrl("onboardUrl", options.onboardUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_DIGIME_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError("createHttpSdk: timeoutMs must be a positive integer");
  const applicationId = options.applicationId;
  // One verifier for every answer, so the key set is fetched once.
  const verifier = createTokenVerifier({ trustedOrigin: new URL(baseUrl).origin, timeoutMs });
  // The SDK refuses no token by its expiry (the sandbox clock may be far from the wall clock).
  const tokens = createTokenEndpoint({ applicationId, baseUrl, timeoutMs, now: () => 0 }, verifier);
  const signer = (contract: ContractDetails) => ({ applicationId, contractId: contract.contractId, privateKey: contract.privateKey });

  const push = async (contract: ContractDetails, token: UserAccessToken, bytes: Buffer, descriptorJwt: string): Promise<void> => {
    const jwt = await signRequestJwt(signer(contract), { access_token: token.accessToken.value });
    await callDigime(
      "digi.me's import endpoint",
      `${baseUrl}permission-access/import`,
      { method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/octet-stream", filedescriptor: descriptorJwt }, body: bytes },
      timeoutMs,
    );
  };

  return {
    async getAuthorizeUrl(input: SdkGetAuthorizeUrlOptions): Promise<SdkGetAuthorizeUrlResult> {
      if (typeof input !== "object" || input === null || !isContract(input.contractDetails) || typeof input.callback !== "string" || input.callback === "") {
        throw new TypeValidationError("Parameters failed validation. props should be a plain object that contains the properties contractDetails and callback.");
      }
      // As the SDK: the verifier is base64url of 32 alphanumerics, the challenge base64url(SHA-256(verifier)).
      const codeVerifier = Buffer.from(randomAlphanumeric(32)).toString("base64url");
      const jwt = await signRequestJwt(signer(input.contractDetails), {
        ...(input.userAccessToken === undefined ? {} : { access_token: input.userAccessToken.accessToken.value }),
        code_challenge: createHash("sha256").update(codeVerifier).digest("base64url"),
        code_challenge_method: "S256",
        redirect_uri: input.callback,
        response_mode: "query",
        response_type: "code",
        state: input.state,
      });
      const answer = await callDigime(
        "digi.me's authorize endpoint",
        `${baseUrl}oauth/authorize`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ agent: { sdk: { name: "nodejs", version: PRESENTED_VERSION, meta: { node: process.version } } } }),
        },
        timeoutMs,
      );
      const body = answer.json as { token?: unknown; session?: unknown } | undefined;
      const payload = await verifier.verify(body?.token);
      if (typeof payload.preauthorization_code !== "string") throw new TypeValidationError("The authorize answer has no preauthorization_code.");
      const url = new URL(`${onboardUrl}authorize`);
      url.search = new URLSearchParams({
        code: payload.preauthorization_code,
        sourceType: "pull",
        ...(input.serviceId === undefined ? {} : { service: String(input.serviceId) }),
      }).toString();
      return { url: url.href, codeVerifier, session: body?.session };
    },

    async exchangeCodeForToken(input: SdkExchangeCodeOptions): Promise<UserAccessToken> {
      if (typeof input !== "object" || input === null || !isContract(input.contractDetails) || typeof input.authorizationCode !== "string" || typeof input.codeVerifier !== "string") {
        throw new TypeValidationError("Parameters failed validation. props should be a plain object that contains contractDetails, authorizationCode and codeVerifier.");
      }
      return tokens.exchangeCode(input.contractDetails, input.authorizationCode, input.codeVerifier);
    },

    async refreshToken(input: SdkRefreshTokenOptions): Promise<UserAccessToken> {
      if (typeof input !== "object" || input === null || !isContract(input.contractDetails) || !isToken(input.userAccessToken)) {
        throw new TypeValidationError("Parameters failed validation. props should be a plain object that contains contractDetails and userAccessToken.");
      }
      return tokens.refresh(input.contractDetails, input.userAccessToken);
    },

    async pushData(input: SdkPushDataOptions): Promise<void> {
      if (typeof input !== "object" || input === null || !isContract(input.contractDetails)) throw new TypeValidationError("Contract Details failed type validation.");
      if (!isToken(input.userAccessToken)) throw new TypeValidationError("User access token failed type validation.");
      const { contractDetails, data } = input;
      if (input.type !== "library" || typeof data !== "object" || data === null || typeof data.fileName !== "string" || typeof data.fileDescriptor !== "object") {
        throw new TypeValidationError("Data object failed type validation. Is fileData, fileName, fileDescriptor set correctly?");
      }
      const bytes = await bytesOf(data.fileData);
      const descriptorJwt = await new SignJWT({ metadata: data.fileDescriptor }).setProtectedHeader({ alg: "PS512", typ: "JWT" }).sign(createPrivateKey(contractDetails.privateKey));
      try {
        await push(contractDetails, input.userAccessToken, bytes, descriptorJwt);
        return;
      } catch (error) {
        if (!callsForRefresh(error)) throw error;
      }
      const next = await tokens.refresh(contractDetails, input.userAccessToken);
      await push(contractDetails, next, bytes, descriptorJwt);
      input.onAccessTokenChange?.(next);
    },
  };
}
