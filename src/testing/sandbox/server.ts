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
 *
 * A caller proves it holds a contract in one of two ways (see
 * {@link ContractCredentials}): the in-process fakes present the private key
 * itself, the HTTP front end a request signature it checks inside the
 * operation, after the gate and the fault rules, exactly where the key
 * comparison happens.
 * @module
 */
import { createHash } from "node:crypto";
import type { FileDescriptor } from "../../sdk/types.js";
import type { FaultDecision, ServerOperation } from "./faults.js";
import { sleep } from "../../internal/sleep.js";
import { publicKeyFingerprint } from "./keys.js";
import { pkceChallenge, randomId, randomSecret } from "./random.js";
import type { SandboxState } from "./state.js";
import type { TokenRecord } from "./tokens.js";
import type { Postbox } from "./libraries.js";
import type { SandboxContract, SandboxEndpoint, SandboxGeneration } from "./types.js";
import { apiErrorFailure, bareFailure, failsBeforeUpload, type WireFailure } from "./wire.js";

/**
 * A request signature the HTTP front end has decoded but not yet checked.
 * `verify` checks it (signature with the contract's public key, `client_id`,
 * `nonce`, `timestamp`) and throws a {@link WireFailure} when it fails.
 *
 * @example
 * ```ts
 * const proof: SignatureProof = { kind: "signature", contractId, verify: () => checkSignedRequest(jwt) };
 * ```
 */
export interface SignatureProof {
  readonly kind: "signature";
  /** The contract the request claims to come from (from its `client_id`). */
  readonly contractId: string;
  verify(): Promise<void>;
}

/**
 * How a caller proves it holds a contract: the private key (in-process fakes)
 * or a signed request (HTTP).
 *
 * @example
 * ```ts
 * const credentials: ContractCredentials = sandbox.contractDetails;
 * ```
 */
export type ContractCredentials = SandboxContract | SignatureProof;

/**
 * `POST oauth/authorize`: what the SDK's signed request carries.
 *
 * @example
 * ```ts
 * const request: AuthorizeRequest = { contract, generation: "C", codeChallenge, state, successRedirect: callback, errorRedirect: callback, accessToken: undefined, serviceId: undefined };
 * ```
 */
export interface AuthorizeRequest {
  contract: ContractCredentials;
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
  contract: ContractCredentials;
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
  contract: ContractCredentials;
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
 * A postbox upload opened with the postbox's keys: the file as the library keeps it.
 *
 * @example
 * ```ts
 * const file: UnsealedFile = { fileName: "a.json", fileDescriptor, body: plainBytes };
 * ```
 */
export interface UnsealedFile {
  fileName: string;
  fileDescriptor: FileDescriptor;
  body: Buffer | ReceivedBody;
}

/**
 * Opens what was uploaded to a postbox. Throws a {@link WireFailure}
 * (400 `InvalidRequest`) when the upload was not encrypted for this postbox.
 *
 * @example
 * ```ts
 * const unseal: PostboxUnseal = plainUpload(publicKey, "a.json", fileDescriptor);
 * ```
 */
export type PostboxUnseal = (upload: Buffer | ReceivedBody, postbox: Postbox) => UnsealedFile | Promise<UnsealedFile>;

/**
 * `POST permission-access/postbox/<postboxId>` (generation A).
 *
 * @example
 * ```ts
 * const request: PostboxWriteRequest = { contract, postboxId, accessToken, body, unseal: plainUpload(publicKey, fileName, fileDescriptor) };
 * ```
 */
export interface PostboxWriteRequest {
  contract: ContractCredentials;
  postboxId: string;
  accessToken: string | undefined;
  /** The upload as it travels: the plain bytes in process, the AES ciphertext over HTTP. */
  body: BodySource;
  unseal: PostboxUnseal;
}

const UNDECRYPTABLE_KEY = () => apiErrorFailure(400, "InvalidRequest", "The symmetrical key could not be decrypted with this postbox's key");

/**
 * The unseal step of the in-process fakes, which hand over plain bytes: the
 * server could only have decrypted the key if it was encrypted to this
 * postbox's public key, so a different key fails as it would on the wire.
 *
 * @example
 * ```ts
 * await writeToPostbox(state, { contract, postboxId, accessToken, body, unseal: plainUpload(publicKey, data.fileName, data.fileDescriptor) });
 * ```
 */
export function plainUpload(publicKey: string, fileName: string, fileDescriptor: FileDescriptor): PostboxUnseal {
  return (upload, postbox) => {
    if (publicKeyFingerprint(publicKey) !== publicKeyFingerprint(postbox.publicKey)) throw UNDECRYPTABLE_KEY();
    return { fileName, fileDescriptor, body: upload };
  };
}

/**
 * The failure for an upload whose symmetrical key does not open with the
 * postbox's private key.
 *
 * @example
 * ```ts
 * if (key.length !== 32) throw undecryptableKeyFailure();
 * ```
 */
export function undecryptableKeyFailure(): WireFailure {
  return UNDECRYPTABLE_KEY();
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
  contract: ContractCredentials;
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
/**
 * A token this sandbox never issued: most often one an app stored while an
 * earlier sandbox ran (state is lost on restart without `--state`, or the
 * sandbox was reset). Same status and code as digi.me's answer
 * (`InvalidToken`), so clients behave alike; the message adds what to do.
 */
const UNKNOWN_TOKEN = (kind: "access_token" | "refresh_token") =>
  apiErrorFailure(
    401,
    "InvalidToken",
    // Short enough to survive the client's message limit.
    `The token (${kind}) is invalid. Sandbox hint: this sandbox never issued it (an earlier sandbox's?): ` +
      "delete the stored token and authorize again, or keep tokens across restarts with --state <file>",
  );

interface RunHooks {
  /** Runs before a failure that pre-empts the effect is thrown (a write still uploads its body). */
  beforeFailure?: (failure: WireFailure) => Promise<void>;
}

/**
 * Gate, faults, effect: the common frame of every operation. `operation` is
 * undefined for the JWKS fetch, which no rule without an `endpoint` hits.
 */
async function run<T>(
  state: SandboxState,
  operation: ServerOperation | undefined,
  endpoint: SandboxEndpoint,
  libraryId: string | undefined,
  effect: () => Promise<T>,
  hooks: RunHooks = {},
): Promise<T> {
  await state.gate.pass();
  if (operation === "write") state.counters.writeAttempts += 1;
  const decision: FaultDecision | undefined = state.faults.decide(operation, libraryId, endpoint);
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

async function authenticate(state: SandboxState, credentials: ContractCredentials): Promise<string> {
  if ("kind" in credentials) {
    // The proof checks the signature and throws the fitting failure itself.
    await credentials.verify();
    return credentials.contractId;
  }
  const record = state.contracts.authenticate(credentials);
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
  return run(state, "authorize", "authorize", linked, async () => {
    const contractId = await authenticate(state, request.contract);
    if (!isAbsoluteUrl(request.successRedirect) || !isAbsoluteUrl(request.errorRedirect)) {
      throw apiErrorFailure(400, "InvalidRedirectUri", "The redirect URI is not valid for this contract");
    }
    // Linking needs a token the server issued; an expired one still identifies the library.
    if (request.accessToken !== undefined && linked === undefined) throw UNKNOWN_TOKEN("access_token");
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
  return run(state, "exchange", "token", state.authorizations.peekCode(request.code)?.libraryId, async () => {
    const contractId = await authenticate(state, request.contract);
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
  return run(state, "refresh", "token", state.tokens.libraryOfRefresh(request.refreshToken), async () => {
    let contractId: string;
    try {
      contractId = await authenticate(state, request.contract);
    } catch (error) {
      state.counters.failedRefreshes += 1;
      throw error;
    }
    const verdict = state.tokens.rotate(request.refreshToken, contractId);
    if (!verdict.ok) {
      state.counters.failedRefreshes += 1;
      throw verdict.reason === "unknown" ? UNKNOWN_TOKEN("refresh_token") : INVALID_REFRESH_TOKEN();
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
    "postbox",
    libraryId,
    async () => {
      const upload = await request.body();
      const contractId = await authenticate(state, request.contract);
      if (postboxLibrary === undefined) throw apiErrorFailure(404, "NotFound", "The postbox does not exist");
      const postbox = await state.libraries.postboxOf(postboxLibrary);
      const file = await request.unseal(upload, postbox);
      if (request.accessToken === undefined) return { status: "pending", expires: 0 };
      const verdict = state.tokens.checkAccess(request.accessToken, contractId);
      if (!verdict.ok) return { status: "pending", expires: 0 };
      if (verdict.record.libraryId !== postboxLibrary) throw apiErrorFailure(403, "InsufficientScope", "The access token does not grant access to this postbox");
      deliver(state, { libraryId: postboxLibrary, contractId, fileName: file.fileName, fileDescriptor: file.fileDescriptor, body: received(file.body), generation: "A" });
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
    "import",
    state.tokens.libraryOfAccess(request.accessToken),
    async () => {
      const body = received(await request.body());
      const contractId = await authenticate(state, request.contract);
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

/**
 * `GET <jku>`: the key set the SDK verifies every token with. It changes no
 * state; it passes the gate and the rules that name the `jwks` endpoint.
 *
 * @example
 * ```ts
 * const document = await serveKeySet(state, async () => ({ keys: [jwk] }));
 * ```
 */
export async function serveKeySet<T>(state: SandboxState, produce: () => Promise<T>): Promise<T> {
  return run(state, undefined, "jwks", undefined, produce);
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
