/**
 * Structural types of the digi.me Node SDK (`@digime/digime-sdk-nodejs`).
 *
 * The library never imports the SDK; it accepts any object shaped like one of
 * its three write-API generations. Members are declared with method syntax so
 * that the SDK's own, wider parameter types are accepted without a cast.
 * @module
 */
import type { Readable } from "node:stream";

/** A token value and its expiry in Unix epoch **seconds**, as the SDK returns it. */
export interface SdkToken {
  value: string;
  expiry: number;
}

/** The SDK's `UserAccessToken`. */
export interface UserAccessToken {
  accessToken: SdkToken;
  refreshToken: SdkToken;
  user?: { id?: string };
  consentid?: string;
}

/** The SDK's `ContractDetails`; `redirectUri` exists only in generations A and B. */
export interface ContractDetails {
  contractId: string;
  /** PKCS#1 PEM private key of the contract. */
  privateKey: string;
  redirectUri?: string;
}

/** Descriptor of a written file, as the SDK expects it. */
export interface FileDescriptor {
  mimeType: string;
  accounts: Array<{ accountId: string }>;
  reference?: string[];
  tags?: string[];
}

/** The `data` argument of the SDK's write methods. */
export interface SdkFileMeta {
  fileData: Buffer | Readable;
  fileName: string;
  fileDescriptor: FileDescriptor;
}

/** Options of `getAuthorizeUrl`, the union of what the generations accept. */
export interface SdkGetAuthorizeUrlOptions {
  contractDetails: ContractDetails;
  callback: string;
  state: string;
  serviceId?: number;
  userAccessToken?: UserAccessToken;
}

/** Result of `getAuthorizeUrl`. */
export interface SdkGetAuthorizeUrlResult {
  url: string;
  codeVerifier: string;
  session?: unknown;
}

/** Options of `exchangeCodeForToken`. */
export interface SdkExchangeCodeOptions {
  contractDetails: ContractDetails;
  authorizationCode: string;
  codeVerifier: string;
}

/** Options of generation A's `write` (postbox). */
export interface SdkWriteOptionsA {
  contractDetails: ContractDetails;
  userAccessToken: UserAccessToken;
  postboxId: string;
  publicKey: string;
  data: SdkFileMeta;
}

/** Options of generation B's `write` (import). */
export interface SdkWriteOptionsB {
  contractDetails: ContractDetails;
  userAccessToken: UserAccessToken;
  data: SdkFileMeta;
}

/** Result of generation A's `write`. */
export interface SdkWriteResultA {
  status: "delivered" | "pending";
  expires: number;
  userAccessToken: UserAccessToken;
}

/** Options of generation C's `pushData` for a library push. */
export interface SdkPushDataOptions {
  type: "library";
  contractDetails: ContractDetails;
  userAccessToken: UserAccessToken;
  data: SdkFileMeta;
  onAccessTokenChange?: (userAccessToken: UserAccessToken) => void;
}

/** Options of `refreshToken` (generation C, SDK 13.x and later). */
export interface SdkRefreshTokenOptions {
  contractDetails: ContractDetails;
  userAccessToken: UserAccessToken;
}

/** Methods every generation has. */
export interface SdkAuthorizationMethods {
  getAuthorizeUrl(options: SdkGetAuthorizeUrlOptions): Promise<SdkGetAuthorizeUrlResult>;
  exchangeCodeForToken(options: SdkExchangeCodeOptions): Promise<UserAccessToken>;
}

/**
 * Generation A, SDK 5.x – 8.x: `write` to a postbox returns the status and the
 * (possibly refreshed) user access token.
 */
export interface SdkGenerationA extends SdkAuthorizationMethods {
  write(options: SdkWriteOptionsA): Promise<SdkWriteResultA>;
}

/**
 * Generation B, SDK 9.x – 10.x: `write` returns nothing and drops any token it
 * refreshed internally.
 */
export interface SdkGenerationB extends SdkAuthorizationMethods {
  write(options: SdkWriteOptionsB): Promise<void>;
}

/**
 * Generation C, SDK 11.x – 17.x: `pushData` announces a refreshed token through
 * `onAccessTokenChange`; `refreshToken` exists from 13.x.
 */
export interface SdkGenerationC extends SdkAuthorizationMethods {
  pushData(options: SdkPushDataOptions): Promise<void>;
  refreshToken?(options: SdkRefreshTokenOptions): Promise<UserAccessToken>;
}

/**
 * Any digi.me SDK instance this library can drive: the result of `init()` of
 * `@digime/digime-sdk-nodejs` 5.x or later, or a sandbox fake.
 *
 * @example
 * ```ts
 * import { init } from "@digime/digime-sdk-nodejs";
 * const sdk: DigimeSdk = init({ applicationId });
 * ```
 */
export type DigimeSdk = SdkGenerationA | SdkGenerationB | SdkGenerationC;

/** The generation a port drives: A (postbox), B (import) or C (pushData). */
export type SdkGeneration = "A" | "B" | "C";
