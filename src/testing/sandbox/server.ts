/**
 * The simulated digi.me server: one function per endpoint the write flow
 * uses, over the core state. Front ends translate their protocol into these
 * requests and translate a thrown {@link WireFailure} into what their client
 * sees. Every operation passes the pause gate, then applies fault rules
 * (latency, then a failure before or after its effect).
 *
 * Error bodies use digi.me's shape `{ error: { code, message, reference } }`.
 * Codes taken from the SDK's own tests: `InvalidToken`, `InvalidRedirectUri`,
 * `InvalidRequest`; the others (`InvalidClient`, `InvalidAuthorizationCode`,
 * `InvalidCodeVerifier`, `NotFound`, `InsufficientScope`) are the sandbox's
 * best guess. Messages never contain token values or codes.
 * @module
 */
import { createHash } from "node:crypto";
import type { FileDescriptor } from "../../sdk/types.js";
import type { FaultDecision, ServerOperation } from "./faults.js";
import { sleep } from "./gate.js";
import { publicKeyFingerprint } from "./keys.js";
import { pkceChallenge, randomId, randomSecret } from "./random.js";
import type { SandboxState } from "./state.js";
import type { TokenRecord } from "./tokens.js";
import type { SandboxContract, SandboxGeneration } from "./types.js";
import { apiErrorFailure, bareFailure, failsBeforeUpload, type WireFailure } from "./wire.js";

/**
 * `POST oauth/authorize`: what the SDK's signed request carries.
 *
 * @example
 * ```ts
 * const request: AuthorizeRequest = { contract, generation: "C", codeChallenge, state, successRedirect: callback, errorRedirect: callback, accessToken: undefined, serviceId: undefined };
 * ```
 */
export interface AuthorizeRequest {
  contract: SandboxContract;
  generation: SandboxGeneration;
  codeChallenge: string;
  state: string | undefined;
  successRedirect: string;
  errorRedirect: string;
  /** An access token of an existing user, to link the new consent to that library. */
  accessToken: string | undefined;
  serviceId: number | undefined;
}

/**
 * The server's answer to authorize.
 *
 * @example
 * ```ts
 * const { preauthorizationCode, session }: AuthorizeResult = await authorize(state, request);
 * ```
 */
export interface AuthorizeResult {
  preauthorizationCode: string;
  /** `expiry` in epoch milliseconds. */
  session: { key: string; expiry: number };
}

/**
 * `POST oauth/token` with `grant_type: authorization_code`.
 *
 * @example
 * ```ts
 * const request: ExchangeRequest = { contract, code, codeVerifier };
 * ```
 */
export interface ExchangeRequest {
  contract: SandboxContract;
  code: string;
  codeVerifier: string;
}

/**
 * `POST oauth/token` with `grant_type: refresh_token`.
 *
 * @example
 * ```ts
 * const request: RefreshRequest = { contract, refreshToken: token.refreshToken.value };
 * ```
 */
export interface RefreshRequest {
  contract: SandboxContract;
  refreshToken: string;
}

/**
 * The token payload the server signs: the wire names (`expires_on` in epoch seconds, `sub` = library).
 *
 * @example
 * ```ts
 * const grant: TokenGrant = await refresh(state, request);
 * grant.access_token.expires_on; // epoch seconds
 * ```
 */
export interface TokenGrant {
  access_token: { value: string; expires_on: number };
  refresh_token: { value: string; expires_on: number };
  sub: string;
  consentid: string;
}

/**
 * A request body the server reads when the upload happens. Lazy, so a
 * connection that never opens leaves a stream untouched.
 *
 * @example
 * ```ts
 * const body: BodySource = async () => Buffer.from("hello");
 * ```
 */
export type BodySource = () => Promise<Buffer | ReceivedBody>;

/**
 * What the server received of a body: the bytes (empty when the sandbox does
 * not keep them), their count and SHA-256.
 *
 * @example
 * ```ts
 * const body: BodySource = async () => ({ bytes: Buffer.alloc(0), size: 5, sha256: "2cf24d…" });
 * ```
 */
export interface ReceivedBody {
  bytes: Buffer;
  size: number;
  sha256: string;
}

function received(body: Buffer | ReceivedBody): ReceivedBody {
  if (!Buffer.isBuffer(body)) return body;
  return { bytes: body, size: body.byteLength, sha256: createHash("sha256").update(body).digest("hex") };
}

/**
 * `POST permission-access/postbox/<postboxId>` (generation A).
 *
 * @example
 * ```ts
 * const request: PostboxWriteRequest = { contract, postboxId, publicKey, accessToken, fileName, fileDescriptor, body };
 * ```
 */
export interface PostboxWriteRequest {
  contract: SandboxContract;
  postboxId: string;
  publicKey: string;
  accessToken: string | undefined;
  fileName: string;
  fileDescriptor: FileDescriptor;
  body: BodySource;
}

/**
 * The postbox endpoint's answer: `pending` means "your access token is stale".
 *
 * @example
 * ```ts
 * const { status, expires }: PostboxWriteResult = await writeToPostbox(state, request);
 * ```
 */
export interface PostboxWriteResult {
  status: "delivered" | "pending";
  /** The access token's expiry (epoch seconds); 0 when the token is unknown. The real field is undocumented. */
  expires: number;
}

/**
 * `POST permission-access/import` (generations B and C).
 *
 * @example
 * ```ts
 * const request: ImportWriteRequest = { contract, accessToken, fileName: "a.json", fileDescriptor, generation: "C", body };
 * ```
 */
export interface ImportWriteRequest {
  contract: SandboxContract;
  accessToken: string;
  /** Not on the wire for B and C; the in-process fakes pass it so DeliveredFile can show it. */
  fileName: string | undefined;
  fileDescriptor: FileDescriptor;
  generation: "B" | "C";
  body: BodySource;
}

const INVALID_CLIENT = () => apiErrorFailure(403, "InvalidClient", "The client credentials are invalid");
const INVALID_ACCESS_TOKEN = () => apiErrorFailure(401, "InvalidToken", "The token (access_token) is invalid");
const INVALID_REFRESH_TOKEN = () => apiErrorFailure(401, "InvalidToken", "The token (refresh_token) is invalid");

interface RunHooks {
  /** Runs before a failure that pre-empts the effect is thrown (a write still uploads its body). */
  beforeFailure?: (failure: WireFailure) => Promise<void>;
}

/** Gate, faults, effect: the common frame of every operation. */
async function run<T>(state: SandboxState, operation: ServerOperation, libraryId: string | undefined, effect: () => Promise<T>, hooks: RunHooks = {}): Promise<T> {
  await state.gate.pass();
  if (operation === "write") state.counters.writeAttempts += 1;
  const decision: FaultDecision | undefined = state.faults.decide(operation, libraryId);
  if (decision !== undefined) await sleep(decision.latencyMs);
  const failure = decision?.failure;
  if (failure !== undefined && decision?.afterAccept !== true) {
    state.counters.faultsInjected += 1;
    if (operation === "refresh") state.counters.failedRefreshes += 1;
    await hooks.beforeFailure?.(failure);
    throw failure;
  }
  const result = await effect();
  if (failure !== undefined) {
    state.counters.faultsInjected += 1;
    throw failure;
  }
  return result;
}

function authenticate(state: SandboxState, contract: SandboxContract): string {
  const record = state.contracts.authenticate(contract);
  if (record === undefined) throw INVALID_CLIENT();
  return record.contractId;
}

function isAbsoluteUrl(value: string): boolean {
  return URL.canParse(value);
}

function grantOf(record: TokenRecord): TokenGrant {
  return {
    access_token: { value: record.accessToken.value, expires_on: record.accessToken.expiry },
    refresh_token: { value: record.refreshToken.value, expires_on: record.refreshToken.expiry },
    sub: record.libraryId,
    consentid: record.consentId,
  };
}

/** Uploads the body even when the reply will be a failure: the client sent it before hearing back. */
function uploadThenFail(body: BodySource): RunHooks {
  return {
    beforeFailure: async (failure) => {
      if (!failsBeforeUpload(failure)) await body();
    },
  };
}

/**
 * Start an authorization: record it and return a pre-authorization code.
 *
 * @example
 * ```ts
 * const { preauthorizationCode } = await authorize(state, request);
 * ```
 */
export async function authorize(state: SandboxState, request: AuthorizeRequest): Promise<AuthorizeResult> {
  const linked = request.accessToken === undefined ? undefined : state.tokens.libraryOfAccess(request.accessToken);
  return run(state, "authorize", linked, async () => {
    const contractId = authenticate(state, request.contract);
    if (!isAbsoluteUrl(request.successRedirect) || !isAbsoluteUrl(request.errorRedirect)) {
      throw apiErrorFailure(400, "InvalidRedirectUri", "The redirect URI is not valid for this contract");
    }
    // Linking needs a token the server issued; an expired one still identifies the library.
    if (request.accessToken !== undefined && linked === undefined) throw INVALID_ACCESS_TOKEN();
    const pending = state.authorizations.create({
      contractId,
      generation: request.generation,
      state: request.state,
      codeChallenge: request.codeChallenge,
      successRedirect: request.successRedirect,
      errorRedirect: request.errorRedirect,
      linkedLibraryId: linked,
      serviceId: request.serviceId,
    });
    state.counters.authorizeUrls += 1;
    return { preauthorizationCode: pending.preauthorizationCode, session: { key: randomSecret(16), expiry: pending.expiresAt } };
  });
}

/**
 * Exchange an authorization code (with its PKCE verifier) for a token pair.
 *
 * @example
 * ```ts
 * const grant = await exchange(state, { contract, code, codeVerifier });
 * ```
 */
export async function exchange(state: SandboxState, request: ExchangeRequest): Promise<TokenGrant> {
  return run(state, "exchange", state.authorizations.peekCode(request.code)?.libraryId, async () => {
    const contractId = authenticate(state, request.contract);
    const code = state.authorizations.redeem(request.code);
    if (code === undefined || code.contractId !== contractId) {
      throw apiErrorFailure(400, "InvalidAuthorizationCode", "The authorization code is invalid, expired or already used");
    }
    if (pkceChallenge(request.codeVerifier) !== code.codeChallenge) {
      throw apiErrorFailure(400, "InvalidCodeVerifier", "The code verifier does not match the code challenge");
    }
    const record = state.tokens.issue(code.libraryId, contractId, randomId("consent"));
    state.counters.exchanges += 1;
    return grantOf(record);
  });
}

/**
 * Rotate a token pair: consume the refresh token, issue the next pair.
 *
 * @example
 * ```ts
 * const next = await refresh(state, { contract, refreshToken });
 * ```
 */
export async function refresh(state: SandboxState, request: RefreshRequest): Promise<TokenGrant> {
  return run(state, "refresh", state.tokens.libraryOfRefresh(request.refreshToken), async () => {
    if (state.contracts.authenticate(request.contract) === undefined) {
      state.counters.failedRefreshes += 1;
      throw INVALID_CLIENT();
    }
    const verdict = state.tokens.rotate(request.refreshToken, request.contract.contractId);
    if (!verdict.ok) {
      state.counters.failedRefreshes += 1;
      throw INVALID_REFRESH_TOKEN();
    }
    state.counters.refreshes += 1;
    return grantOf(verdict.record);
  });
}

/**
 * Generation A: push a file to a library's postbox. A stale or unknown access
 * token is not an error here: the endpoint answers `pending` and stores nothing.
 *
 * @example
 * ```ts
 * const { status } = await writeToPostbox(state, request);
 * ```
 */
export async function writeToPostbox(state: SandboxState, request: PostboxWriteRequest): Promise<PostboxWriteResult> {
  const postboxLibrary = state.libraries.libraryOfPostbox(request.postboxId);
  const libraryId = (request.accessToken === undefined ? undefined : state.tokens.libraryOfAccess(request.accessToken)) ?? postboxLibrary;
  return run(
    state,
    "write",
    libraryId,
    async () => {
      const body = received(await request.body());
      const contractId = authenticate(state, request.contract);
      if (postboxLibrary === undefined) throw apiErrorFailure(404, "NotFound", "The postbox does not exist");
      const postbox = await state.libraries.postboxOf(postboxLibrary);
      // The server could not decrypt a key encrypted to another public key.
      if (publicKeyFingerprint(request.publicKey) !== publicKeyFingerprint(postbox.publicKey)) {
        throw apiErrorFailure(400, "InvalidRequest", "The symmetrical key could not be decrypted with this postbox's key");
      }
      if (request.accessToken === undefined) return { status: "pending", expires: 0 };
      const verdict = state.tokens.checkAccess(request.accessToken, contractId);
      if (!verdict.ok) return { status: "pending", expires: 0 };
      if (verdict.record.libraryId !== postboxLibrary) throw apiErrorFailure(403, "InsufficientScope", "The access token does not grant access to this postbox");
      deliver(state, { libraryId: postboxLibrary, contractId, fileName: request.fileName, fileDescriptor: request.fileDescriptor, body, generation: "A" });
      return { status: "delivered", expires: verdict.record.accessToken.expiry };
    },
    uploadThenFail(request.body),
  );
}

/**
 * Generations B and C: import a file into the token's library. A stale or
 * unknown access token gets a bare 401 (no JSON body): the response the SDK's
 * own tests model, and the only one SDK 10.x refreshes on (it turns a JSON 401
 * into a ServerError before its refresh wrapper can see it).
 *
 * @example
 * ```ts
 * await importFile(state, request);
 * ```
 */
export async function importFile(state: SandboxState, request: ImportWriteRequest): Promise<void> {
  return run(
    state,
    "write",
    state.tokens.libraryOfAccess(request.accessToken),
    async () => {
      const body = received(await request.body());
      const contractId = authenticate(state, request.contract);
      const verdict = state.tokens.checkAccess(request.accessToken, contractId);
      if (!verdict.ok) throw bareFailure(401);
      deliver(state, {
        libraryId: verdict.record.libraryId,
        contractId,
        fileName: request.fileName ?? "",
        fileDescriptor: request.fileDescriptor,
        body,
        generation: request.generation,
      });
    },
    uploadThenFail(request.body),
  );
}

function deliver(
  state: SandboxState,
  file: { libraryId: string; contractId: string; fileName: string; fileDescriptor: FileDescriptor; body: ReceivedBody; generation: SandboxGeneration },
): void {
  const { body, ...rest } = file;
  state.libraries.store({
    ...rest,
    fileDescriptor: structuredClone(file.fileDescriptor),
    bytes: body.bytes,
    size: body.size,
    sha256: body.sha256,
    deliveredAt: state.clock.nowMs(),
  });
  state.counters.deliveries += 1;
}
