/**
 * Checking what a request carries (JWT claims, JSON bodies, file
 * descriptors) against zod schemas, with 400 `InvalidRequest` errors that
 * name the field and never echo its value.
 * @module
 */
import { z } from "zod";
import type { FileDescriptor } from "../../../sdk/types.js";
import { invalidRequest } from "./exchange.js";

/**
 * The file descriptor the SDK sends (its `PushedFileMeta.fileDescriptor` codec).
 *
 * @example
 * ```ts
 * const descriptor = parseOrReject(fileDescriptorSchema, payload.metadata, "FileDescriptor metadata");
 * ```
 */
export const fileDescriptorSchema: z.ZodType<FileDescriptor> = z.object({
  mimeType: z.string(),
  accounts: z.array(z.object({ accountId: z.string() })),
  reference: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
});

/**
 * Parse `value` with `schema` or throw a 400 naming the first bad field of `what`.
 *
 * @example
 * ```ts
 * const claims = parseOrReject(tokenClaimsSchema, signed.claims, "token request");
 * ```
 */
export function parseOrReject<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? "" : ` (${issue.path.map(String).join(".")})`;
  throw invalidRequest(`The ${what} is malformed${field}`);
}

/**
 * Parse a JSON request body; an empty body counts as `{}`.
 *
 * @example
 * ```ts
 * const body = parseJsonBody(await request.body());
 * ```
 */
export function parseJsonBody(bytes: Buffer): unknown {
  const text = bytes.toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidRequest("The request body is not valid JSON");
  }
}
