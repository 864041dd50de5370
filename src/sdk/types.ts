/**
 * Structural types of the digi.me Node SDK (`@digime/digime-sdk-nodejs`).
 *
 * The library never imports the SDK; it accepts any object shaped like one of
 * its three write-API generations. Members are declared with method syntax so
 * that the SDK's own, wider parameter types are accepted without a cast.
 * @module
 */
import type { Readable } from "node:stream";

/**
 * A token value and its expiry in Unix epoch **seconds**, as the SDK returns it.
 *
 * @example
 * ```ts
 * const expiresAt = new Date(token.accessToken.expiry * 1000);
 * ```
 */
export interface SdkToken {
  /** The opaque token. A secret: never log it. */
  value: string;
  /** When it stops being accepted, in Unix epoch seconds. */
  expiry: number;
}

/**
 * The SDK's `UserAccessToken`: an access token for writes and a single-use
 * refresh token that obtains the next pair.
 *
 * @example
 * ```ts
 * const token: UserAccessToken = await sdk.exchangeCodeForToken({ contractDetails, authorizationCode, codeVerifier });
 * ```
 */
export interface UserAccessToken {
  /** Sent with every write; short-lived. */
  accessToken: SdkToken;
  /** Exchanged once for a new pair; a used one is refused. */
  refreshToken: SdkToken;
  /** Generation C only: the user's library. */
  user?: {
    /** The library id. */
    id?: string;
  };
  /** Generation C only: the consent the token belongs to. */
  consentid?: string;
}

/**
 * The SDK's `ContractDetails`; `redirectUri` exists only in generations A and B.
 *
 * @example
 * ```ts
 * const contractDetails: ContractDetails = { contractId: process.env.DIGIME_CONTRACT_ID!, privateKey: process.env.DIGIME_PRIVATE_KEY! };
 * ```
 */
export interface ContractDetails {
  /** The contract's id from the digi.me developer console. */
  contractId: string;
  /** PKCS#1 PEM private key of the contract. */
  privateKey: string;
  /** Generations A and B: where digi.me redirects after consent (the library fills it in). */
  redirectUri?: string;
}

/**
 * Descriptor of a written file, as the SDK expects it.
 *
 * @example
 * ```ts
 * const fileDescriptor: FileDescriptor = { mimeType: "application/json", accounts: [{ accountId: "shop" }], tags: ["orders"] };
 * ```
 */
export interface FileDescriptor {
  /** MIME type of the file, such as `application/json`. */
  mimeType: string;
  /** The accounts of your service the file belongs to. */
  accounts: Array<{
    /** Your identifier of the account. */
    accountId: string;
  }>;
  /** Your references for the file. */
  reference?: string[];
  /** Free-form tags. */
  tags?: string[];
}

/**
 * The `data` argument of the SDK's write methods.
 *
 * @example
 * ```ts
 * const data: SdkFileMeta = { fileData: Buffer.from("{}"), fileName: "empty.json", fileDescriptor };
 * ```
 */
export interface SdkFileMeta {
  /** The file's bytes, or a stream of them (read once). */
  fileData: Buffer | Readable;
  /** The file's name. */
  fileName: string;
  /** What the file is and whose. */
  fileDescriptor: FileDescriptor;
}

/**
 * Options of `getAuthorizeUrl`, the union of what the generations accept.
 *
 * @example
 * ```ts
 * const options: SdkGetAuthorizeUrlOptions = { contractDetails, callback: "https://app.example/digime/callback", state };
 * ```
 */
export interface SdkGetAuthorizeUrlOptions {
  /** The contract to authorize. */
  contractDetails: ContractDetails;
  /** Generation C: the redirect after consent; A and B: the redirect on failure. */
  callback: string;
  /** Returned untouched in the callback; the library makes it random and checks it. */
  state: string;
  /** Onboard a service as part of the consent. */
  serviceId?: number;
  /** An existing token of the user, so digi.me links the same library. */
  userAccessToken?: UserAccessToken;
}

/**
 * Result of `getAuthorizeUrl`.
 *
 * @example
 * ```ts
 * const { url, codeVerifier }: SdkGetAuthorizeUrlResult = await sdk.getAuthorizeUrl(options);
 * ```
 */
export interface SdkGetAuthorizeUrlResult {
  /** Where to send the user. */
  url: string;
  /** The PKCE verifier the code exchange needs. A secret. */
  codeVerifier: string;
  /** The SDK's session details; unused by this library. */
  session?: unknown;
}

/**
 * Options of `exchangeCodeForToken`.
 *
 * @example
 * ```ts
 * const token = await sdk.exchangeCodeForToken({ contractDetails, authorizationCode: code, codeVerifier } satisfies SdkExchangeCodeOptions);
 * ```
 */
export interface SdkExchangeCodeOptions {
  /** The contract that asked for consent. */
  contractDetails: ContractDetails;
  /** The `code` from the callback. */
  authorizationCode: string;
  /** The verifier `getAuthorizeUrl` returned. */
  codeVerifier: string;
}

/**
 * Options of generation A's `write` (postbox).
 *
 * @example
 * ```ts
 * const result = await sdk.write({ contractDetails, userAccessToken, postboxId, publicKey, data } satisfies SdkWriteOptionsA);
 * ```
 */
export interface SdkWriteOptionsA {
  /** The writing contract. */
  contractDetails: ContractDetails;
  /** The user's token. */
  userAccessToken: UserAccessToken;
  /** The postbox from the consent callback. */
  postboxId: string;
  /** The postbox's public key from the consent callback. */
  publicKey: string;
  /** The file. */
  data: SdkFileMeta;
}

/**
 * Options of generation B's `write` (import).
 *
 * @example
 * ```ts
 * await sdk.write({ contractDetails, userAccessToken, data } satisfies SdkWriteOptionsB);
 * ```
 */
export interface SdkWriteOptionsB {
  /** The writing contract. */
  contractDetails: ContractDetails;
  /** The user's token. */
  userAccessToken: UserAccessToken;
  /** The file. */
  data: SdkFileMeta;
}

/**
 * Result of generation A's `write`.
 *
 * @example
 * ```ts
 * const { status, userAccessToken }: SdkWriteResultA = await sdk.write(options);
 * ```
 */
export interface SdkWriteResultA {
  /** `delivered`, or `pending` when digi.me will process the file later. */
  status: "delivered" | "pending";
  /** Expiry of the access token used, in epoch seconds. */
  expires: number;
  /** The token after the write: a new one when the SDK refreshed. */
  userAccessToken: UserAccessToken;
}

/**
 * Options of generation C's `pushData` for a library push.
 *
 * @example
 * ```ts
 * await sdk.pushData({ type: "library", contractDetails, userAccessToken, data, onAccessTokenChange: save } satisfies SdkPushDataOptions);
 * ```
 */
export interface SdkPushDataOptions {
  /** Always `"library"`: push into the user's own library. */
  type: "library";
  /** The writing contract. */
  contractDetails: ContractDetails;
  /** The user's token. */
  userAccessToken: UserAccessToken;
  /** The file. */
  data: SdkFileMeta;
  /** Called with the new token when the SDK refreshed during the push. */
  onAccessTokenChange?: (userAccessToken: UserAccessToken) => void;
}

/**
 * Options of `refreshToken` (generation C, SDK 13.x and later).
 *
 * @example
 * ```ts
 * const fresh = await sdk.refreshToken!({ contractDetails, userAccessToken } satisfies SdkRefreshTokenOptions);
 * ```
 */
export interface SdkRefreshTokenOptions {
  /** The contract the token belongs to. */
  contractDetails: ContractDetails;
  /** The token whose refresh token is spent. */
  userAccessToken: UserAccessToken;
}

/**
 * Methods every generation has.
 *
 * @example
 * ```ts
 * const { url, codeVerifier } = await (sdk as SdkAuthorizationMethods).getAuthorizeUrl(options);
 * ```
 */
export interface SdkAuthorizationMethods {
  /** Registers an authorization and returns the consent URL and its PKCE verifier. */
  getAuthorizeUrl(options: SdkGetAuthorizeUrlOptions): Promise<SdkGetAuthorizeUrlResult>;
  /** Exchanges the callback's code for the user's first token pair. */
  exchangeCodeForToken(options: SdkExchangeCodeOptions): Promise<UserAccessToken>;
}

/**
 * Generation A, SDK 5.x – 8.x: `write` to a postbox returns the status and the
 * (possibly refreshed) user access token.
 *
 * @example
 * ```ts
 * const sdk: SdkGenerationA = sandbox.sdk("v8");
 * ```
 */
export interface SdkGenerationA extends SdkAuthorizationMethods {
  /** Writes a file to the user's postbox; refreshes the token inside when needed and returns it. */
  write(options: SdkWriteOptionsA): Promise<SdkWriteResultA>;
}

/**
 * Generation B, SDK 9.x – 10.x: `write` returns nothing and drops any token it
 * refreshed internally.
 *
 * @example
 * ```ts
 * const sdk: SdkGenerationB = sandbox.sdk("v10");
 * ```
 */
export interface SdkGenerationB extends SdkAuthorizationMethods {
  /** Imports a file into the user's library; a token refreshed inside is not returned. */
  write(options: SdkWriteOptionsB): Promise<void>;
}

/**
 * Generation C, SDK 11.x – 17.x: `pushData` announces a refreshed token through
 * `onAccessTokenChange`; `refreshToken` exists from 13.x.
 *
 * @example
 * ```ts
 * const sdk: SdkGenerationC = sandbox.sdk("v16");
 * ```
 */
export interface SdkGenerationC extends SdkAuthorizationMethods {
  /** Pushes a file into the user's library; announces a refreshed token through `onAccessTokenChange`. */
  pushData(options: SdkPushDataOptions): Promise<void>;
  /** Spends the refresh token for a new pair (SDK 13.x and later). */
  refreshToken?(options: SdkRefreshTokenOptions): Promise<UserAccessToken>;
}

/**
 * Any digi.me SDK instance this library can drive: the result of `init()` of
 * `@digime/digime-sdk-nodejs` 5.x to 17.x, or a sandbox fake.
 *
 * @example
 * ```ts
 * import { init } from "@digime/digime-sdk-nodejs";
 * const sdk: DigimeSdk = init({ applicationId });
 * ```
 */
export type DigimeSdk = SdkGenerationA | SdkGenerationB | SdkGenerationC;

/**
 * The generation a port drives: A (postbox), B (import) or C (pushData).
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, sdkGeneration: "C" satisfies SdkGeneration });
 * ```
 */
export type SdkGeneration = "A" | "B" | "C";
