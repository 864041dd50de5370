/**
 * Checks on what the SDK returns, so that a changed SDK fails loudly instead
 * of writing a malformed token into the store.
 */
import { z } from "zod";
import { SdkResponseError } from "../errors.js";
// One schema for the user access token, wherever it comes from: a token the SDK returns is
// held to what the stores accept, so a token no store would keep fails here, at the SDK.
import { userAccessTokenSchema } from "../stores/credentials-schema.js";
import type { SdkGetAuthorizeUrlResult, SdkWriteResultA, UserAccessToken } from "./types.js";

const authorizeUrlResultSchema = z.looseObject({
  url: z.string().url(),
  codeVerifier: z.string().min(1),
});

const writeResultASchema = z.looseObject({
  status: z.enum(["delivered", "pending"]),
  expires: z.number().optional(),
  userAccessToken: userAccessTokenSchema,
});

function check<T>(schema: z.ZodType, value: unknown, method: string): T {
  const result = schema.safeParse(value);
  if (result.success) return value as T;
  // Only paths and messages: the value itself may hold a token.
  const detail = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
  throw new SdkResponseError(method, detail);
}

/** Validate a token returned by `exchangeCodeForToken`, `refreshToken` or a write. */
export function checkUserAccessToken(value: unknown, method: string): UserAccessToken {
  return check<UserAccessToken>(userAccessTokenSchema, value, method);
}

/** Validate the result of `getAuthorizeUrl`. */
export function checkAuthorizeUrlResult(value: unknown): SdkGetAuthorizeUrlResult {
  return check<SdkGetAuthorizeUrlResult>(authorizeUrlResultSchema, value, "getAuthorizeUrl");
}

/** Validate the result of generation A's `write`. */
export function checkWriteResultA(value: unknown): SdkWriteResultA {
  return check<SdkWriteResultA>(writeResultASchema, value, "write");
}
