/**
 * zod schemas and parsers shared by every built-in {@link TokenStore}: one
 * definition of a valid key, valid credentials and a valid stored record, so
 * the memory store, the file store and the file format cannot drift apart.
 *
 * Error messages name the field and what was wrong, never the value: a
 * rejected input may be a token.
 * @module
 */
import { z } from "zod";
import { idSchema, isWellFormedId, MAX_ID_LENGTH } from "../internal/ids.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import type { Credentials, CredentialsKey, RefreshLeaseOptions, SetOptions, StoredCredentials, TokenStore } from "./token-store.js";

const nonEmptyString = (max: number): z.ZodString =>
  z
    .string({ error: "must be a non-empty string" })
    .min(1, { error: "must be a non-empty string" })
    .max(max, { error: `must be at most ${max} characters` });

/** Longest token value a store accepts: generous for any JWT, small enough to refuse garbage. */
const MAX_TOKEN_LENGTH = 65_536;

/**
 * Fields the SDK may add to a token in the future are kept (as JSON values)
 * rather than stripped, so a store never silently drops part of a token.
 */
const extraJsonFields = z.json().optional();

const sdkTokenSchema = z
  .object(
    {
      value: nonEmptyString(MAX_TOKEN_LENGTH),
      // zod 4 rejects NaN and ±Infinity for z.number().
      expiry: z.number({ error: "must be a finite number (Unix epoch seconds)" }),
    },
    { error: "must be an object" },
  )
  .catchall(extraJsonFields);

/**
 * Schema of an SDK `UserAccessToken`: both tokens with a non-empty `value`
 * and a finite `expiry` in seconds; `user` and `consentid` when present.
 *
 * @example
 * ```ts
 * userAccessTokenSchema.parse({
 *   accessToken: { value: "a", expiry: 1_900_000_000 },
 *   refreshToken: { value: "r", expiry: 1_900_086_400 },
 * });
 * ```
 */
export const userAccessTokenSchema = z
  .object(
    {
      accessToken: sdkTokenSchema,
      refreshToken: sdkTokenSchema,
      user: z
        .object({ id: z.string({ error: "must be a string" }).optional() }, { error: "must be an object" })
        .catchall(extraJsonFields)
        .optional(),
      consentid: z.string({ error: "must be a string" }).optional(),
    },
    { error: "must be an object" },
  )
  .catchall(extraJsonFields);

/**
 * Schema of a {@link CredentialsKey}: `userId` and `contractId` are
 * non-empty, well-formed Unicode strings without control characters (see
 * `internal/ids`). Otherwise any string is a valid id, including `__proto__`
 * or ids containing separators; stores must key on the pair without joining it.
 *
 * @example
 * ```ts
 * credentialsKeySchema.parse({ userId: "alice", contractId: "c1" });
 * ```
 */
export const credentialsKeySchema = z.object(
  {
    userId: idSchema(MAX_ID_LENGTH),
    contractId: idSchema(MAX_ID_LENGTH),
  },
  { error: "must be an object with userId and contractId" },
);

/**
 * Schema of {@link Credentials}. Unknown top-level fields (for example the
 * `version` of a record passed back in) are stripped: only the token and the
 * postbox are stored.
 *
 * @example
 * ```ts
 * credentialsSchema.parse({ userAccessToken, postboxId: "pb-1", publicKey: pem });
 * ```
 */
export const credentialsSchema = z.object(
  {
    userAccessToken: userAccessTokenSchema,
    postboxId: nonEmptyString(MAX_ID_LENGTH).optional(),
    publicKey: nonEmptyString(MAX_TOKEN_LENGTH).optional(),
    refreshTokenRefused: z.literal(true, { error: "must be true or absent" }).optional(),
  },
  { error: "must be an object with a userAccessToken" },
);

/**
 * Schema of a {@link StoredCredentials} record as a store holds it, used to
 * check records read back from storage.
 *
 * @example
 * ```ts
 * const result = storedCredentialsSchema.safeParse(JSON.parse(line));
 * if (!result.success) throw new Error("corrupt record");
 * ```
 */
export const storedCredentialsSchema = credentialsKeySchema.extend({
  ...credentialsSchema.shape,
  version: z.number({ error: "must be a positive integer" }).int({ error: "must be a positive integer" }).min(1, {
    error: "must be a positive integer",
  }),
  updatedAt: z.number({ error: "must be a finite number (epoch milliseconds)" }),
});

const setOptionsSchema = z.object(
  {
    expectedVersion: z
      .number({ error: "must be null or a positive integer" })
      .int({ error: "must be null or a positive integer" })
      .min(1, { error: "must be null or a positive integer" })
      .nullable(),
  },
  { error: "must be an object with expectedVersion" },
);

/**
 * Checks a {@link CredentialsKey} argument and returns a plain copy holding
 * only `userId` and `contractId`.
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming `key.userId` or `key.contractId`.
 * @example
 * ```ts
 * const { userId, contractId } = parseCredentialsKey(key);
 * ```
 */
export function parseCredentialsKey(key: unknown): CredentialsKey {
  // Every store call passes here: the valid case skips zod's walk; zod names what is wrong otherwise.
  if (typeof key === "object" && key !== null && !Array.isArray(key)) {
    const { userId, contractId } = key as Record<string, unknown>;
    if (isId(userId) && isId(contractId)) return { userId, contractId };
  }
  return parseOrThrow(credentialsKeySchema, key, "INVALID_ARGUMENT", "key");
}

function isId(value: unknown): value is string {
  return isWellFormedId(value, MAX_ID_LENGTH);
}

/**
 * Checks a `userId` argument (as taken by {@link TokenStore.listByUser}).
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming `userId`.
 * @example
 * ```ts
 * const userId = parseUserId(input);
 * ```
 */
export function parseUserId(userId: unknown): string {
  return parseOrThrow(idSchema(MAX_ID_LENGTH), userId, "INVALID_ARGUMENT", "userId");
}

/**
 * Checks a {@link Credentials} argument and returns a detached, JSON-clean
 * copy: later changes to the caller's object cannot reach the store, and every
 * store (in memory or on disk) holds exactly the same shape.
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming the field, for
 * example `credentials.userAccessToken.refreshToken.expiry`.
 * @example
 * ```ts
 * const credentials = parseCredentials({ userAccessToken, postboxId });
 * ```
 */
export function parseCredentials(credentials: unknown): Credentials {
  const parsed = parseOrThrow(credentialsSchema, credentials, "INVALID_ARGUMENT", "credentials");
  return jsonClone(parsed) as Credentials;
}

/**
 * Checks the {@link SetOptions} argument of {@link TokenStore.set}.
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming `options.expectedVersion`.
 * @example
 * ```ts
 * const { expectedVersion } = parseSetOptions(options);
 * ```
 */
export function parseSetOptions(options: unknown): SetOptions {
  return parseOrThrow(setOptionsSchema, options, "INVALID_ARGUMENT", "options");
}

const leaseOptionsSchema = z.object(
  {
    owner: nonEmptyString(256),
    ttlMs: z
      .number({ error: "must be an integer number of milliseconds between 1 and 3600000" })
      .int({ error: "must be an integer number of milliseconds between 1 and 3600000" })
      .min(1, { error: "must be an integer number of milliseconds between 1 and 3600000" })
      .max(3_600_000, { error: "must be an integer number of milliseconds between 1 and 3600000" }),
  },
  { error: "must be an object with owner and ttlMs" },
);

/**
 * Checks the options of `acquireRefreshLease`.
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming `options.owner` or `options.ttlMs`.
 * @example
 * ```ts
 * const { owner, ttlMs } = parseLeaseOptions(options);
 * ```
 */
export function parseLeaseOptions(options: unknown): RefreshLeaseOptions {
  return parseOrThrow(leaseOptionsSchema, options, "INVALID_ARGUMENT", "options");
}

/**
 * Checks the owner passed to `releaseRefreshLease`.
 *
 * @throws {@link ValidationError} `INVALID_ARGUMENT` naming `owner`.
 * @example
 * ```ts
 * const owner = parseLeaseOwner(value);
 * ```
 */
export function parseLeaseOwner(owner: unknown): string {
  return parseOrThrow(nonEmptyString(256), owner, "INVALID_ARGUMENT", "owner");
}

/**
 * Builds the record a store keeps for a successful `set`, with a stable
 * field order and without absent optional fields.
 *
 * @example
 * ```ts
 * const record = buildStoredCredentials(key, credentials, 1, Date.now());
 * ```
 */
export function buildStoredCredentials(
  key: CredentialsKey,
  credentials: Credentials,
  version: number,
  updatedAt: number,
): StoredCredentials {
  return {
    userId: key.userId,
    contractId: key.contractId,
    userAccessToken: credentials.userAccessToken,
    ...(credentials.postboxId === undefined ? {} : { postboxId: credentials.postboxId }),
    ...(credentials.publicKey === undefined ? {} : { publicKey: credentials.publicKey }),
    ...(credentials.refreshTokenRefused === true ? { refreshTokenRefused: true as const } : {}),
    version,
    updatedAt,
  };
}

/**
 * A deep copy through JSON: drops `undefined` fields so that a record looks
 * the same whether it was kept in memory or read back from a file.
 *
 * @example
 * ```ts
 * const copy = jsonClone(record);
 * ```
 */
export function jsonClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
