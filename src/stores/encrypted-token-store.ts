/**
 * Tokens sealed at rest, under any {@link TokenStore}: the two token values
 * of every record are encrypted with AES-256-GCM (node:crypto) before the
 * wrapped store sees them, so Redis, PostgreSQL, the token file or a store of
 * the app's own hold ciphertext only.
 *
 * Each sealed value is bound to its record's user, contract and field (the
 * GCM additional data), so a ciphertext copied into another user's slot, or
 * from the access to the refresh field, does not open. Expiries, versions,
 * postbox ids and public keys stay plain: the wrapped store needs the expiry
 * for `listExpiring`, and the others are not secrets.
 *
 * Keys rotate as a list: the first seals, every listed key opens (a short key
 * id in each value picks it). A record sealed under an older key, or a plain
 * record from before the wrapper, opens as it is and is sealed under the
 * first key on its next write (the keeper writes on every refresh).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { z } from "zod";
import { TokenRecordSealError, ValidationError } from "../errors.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import { weakSecretReason } from "../authorization/secret-strength.js";
import type { UserAccessToken } from "../sdk/types.js";
import { parseCredentials, parseCredentialsKey, parseSetOptions } from "./credentials-schema.js";
import type { Credentials, CredentialsKey, ListExpiringOptions, RefreshLeaseOptions, SetOptions, SetResult, StoredCredentials, TokenStore } from "./token-store.js";

/**
 * Options of {@link encryptedTokenStore}.
 *
 * @example
 * ```ts
 * const options: EncryptedTokenStoreOptions = { keys: [process.env.TOKEN_KEY!, process.env.TOKEN_KEY_OLD!] };
 * ```
 */
export interface EncryptedTokenStoreOptions {
  /**
   * Encryption keys, newest first (1 to 16). The first seals every write; all
   * of them open. Each is at least 32 random bytes: a `Uint8Array`, or their
   * base64, base64url or hex text (make one with `openssl rand -base64 32`).
   * To rotate, put a new key first and keep the old one until every record
   * was written again (or run `client.refreshExpiring`, which rewrites them).
   */
  keys: ReadonlyArray<string | Uint8Array>;
}

/** Marks a sealed value: version, key id, then base64url of IV ‖ ciphertext ‖ tag. */
const PREFIX = "dwp:a256gcm:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_BYTES = 6;
const HKDF_SALT = "digime-write-pipeline/tokens-at-rest";
const MIN_KEY_BYTES = 32;
const MAX_KEYS = 16;

interface Key {
  /** base64url of a digest of the key: reveals nothing usable about a 256-bit random key. */
  readonly id: string;
  readonly bytes: Buffer;
}

const keyInput = z.union([z.string(), z.instanceof(Uint8Array)]).superRefine((value, ctx) => {
  if (typeof value === "string") {
    const reason = weakSecretReason(value);
    if (reason !== undefined) ctx.addIssue({ code: "custom", message: reason });
  } else if (value.byteLength < MIN_KEY_BYTES) {
    ctx.addIssue({ code: "custom", message: `must hold at least ${MIN_KEY_BYTES} random bytes` });
  }
});

const optionsSchema = z.object({
  keys: z.array(keyInput).min(1, "must list at least one key").max(MAX_KEYS, `must list at most ${MAX_KEYS} keys`),
});

function decodeKey(value: string | Uint8Array): Buffer {
  if (typeof value !== "string") return Buffer.from(value);
  return /^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0 ? Buffer.from(value, "hex") : Buffer.from(value, "base64url");
}

function deriveKey(value: string | Uint8Array): Key {
  const raw = decodeKey(value);
  return {
    id: Buffer.from(hkdfSync("sha256", raw, HKDF_SALT, "key id", KID_BYTES)).toString("base64url"),
    bytes: Buffer.from(hkdfSync("sha256", raw, HKDF_SALT, "A256GCM v1", 32)),
  };
}

type Field = "accessToken" | "refreshToken";

/** What the ciphertext is bound to: user, contract and field, as JSON so no two triples share bytes. */
function additionalData(key: CredentialsKey, field: Field): Buffer {
  return Buffer.from(JSON.stringify(["digime-write-pipeline token", key.userId, key.contractId, field]));
}

function seal(value: string, key: Key, record: CredentialsKey, field: Field): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(record, field));
  const body = Buffer.concat([iv, cipher.update(value, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${PREFIX}${key.id}:${body.toString("base64url")}`;
}

function open(value: string, keys: readonly Key[], record: CredentialsKey, field: Field): string {
  // A value without the prefix is a plain record from before the wrapper: returned as it is, sealed on its next write.
  if (!value.startsWith(PREFIX)) return value;
  const rest = value.slice(PREFIX.length);
  const separator = rest.indexOf(":");
  const key = separator < 0 ? undefined : keys.find((candidate) => candidate.id === rest.slice(0, separator));
  if (separator < 0) throw new TokenRecordSealError("tampered", record.userId, record.contractId);
  if (key === undefined) throw new TokenRecordSealError("unknown-key", record.userId, record.contractId);
  const body = Buffer.from(rest.slice(separator + 1), "base64url");
  if (body.length < IV_BYTES + TAG_BYTES) throw new TokenRecordSealError("tampered", record.userId, record.contractId);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.bytes, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(record, field));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new TokenRecordSealError("tampered", record.userId, record.contractId);
  }
}

function mapToken(token: UserAccessToken, map: (value: string, field: Field) => string): UserAccessToken {
  return {
    ...token,
    accessToken: { ...token.accessToken, value: map(token.accessToken.value, "accessToken") },
    refreshToken: { ...token.refreshToken, value: map(token.refreshToken.value, "refreshToken") },
  };
}

/**
 * Wrap `store` so that token values are sealed at rest (AES-256-GCM, bound
 * to user, contract and field). Leases (renewal included) and `listExpiring` pass through when
 * the wrapped store has them, compare-and-set works as before. A record no
 * listed key opens, or one that was altered, is a {@link TokenRecordSealError}
 * (a `TokenStoreError`, not retryable), and nothing is overwritten.
 *
 * @throws {@link ValidationError} `INVALID_OPTIONS` naming the bad key (`options.keys[0]`).
 * @example
 * ```ts
 * import { encryptedTokenStore, WriteClient } from "digime-write-pipeline";
 * import { RedisTokenStore } from "digime-write-pipeline/redis";
 *
 * const tokenStore = encryptedTokenStore(new RedisTokenStore({ connection: process.env.REDIS_URL }), {
 *   keys: [process.env.TOKEN_KEY!], // newest first; keep retired keys after it until records are rewritten
 * });
 * const client = new WriteClient({ ...options, tokenStore });
 * ```
 */
export function encryptedTokenStore(store: TokenStore, options: EncryptedTokenStoreOptions): TokenStore {
  const parsed = parseOrThrow(optionsSchema, options, "INVALID_OPTIONS", "options");
  if (typeof store !== "object" || store === null || typeof store.get !== "function" || typeof store.set !== "function") {
    throw new ValidationError("INVALID_OPTIONS", "store", [{ path: "store", message: "must be a TokenStore (get, set, delete, listByUser)" }]);
  }
  const keys = parsed.keys.map(deriveKey);
  const current = keys[0] as Key;

  const openRecord = (record: StoredCredentials | undefined, key: CredentialsKey): StoredCredentials | undefined =>
    record === undefined ? undefined : { ...record, userAccessToken: mapToken(record.userAccessToken, (value, field) => open(value, keys, key, field)) };
  // Bound to the record's own user and contract: a record the wrapped store lists under another key does not open.
  const openListed = (record: StoredCredentials): StoredCredentials => openRecord(record, { userId: record.userId, contractId: record.contractId }) as StoredCredentials;

  const wrapper: TokenStore = {
    async get(input: CredentialsKey): Promise<StoredCredentials | undefined> {
      const key = parseCredentialsKey(input);
      return openRecord(await store.get(key), key);
    },
    async set(input: CredentialsKey, credentialsInput: Credentials, optionsInput: SetOptions): Promise<SetResult> {
      const key = parseCredentialsKey(input);
      const credentials = parseCredentials(credentialsInput);
      const setOptions = parseSetOptions(optionsInput);
      const sealed: Credentials = { ...credentials, userAccessToken: mapToken(credentials.userAccessToken, (value, field) => seal(value, current, key, field)) };
      const result = await store.set(key, sealed, setOptions);
      if (result.status === "stored") return { status: "stored", record: { ...result.record, userAccessToken: credentials.userAccessToken } };
      // A conflict shows what is stored now; one that does not open is refused here too, so the caller never overwrites it blindly.
      return { status: "conflict", current: openRecord(result.current, key) };
    },
    delete: (key) => store.delete(parseCredentialsKey(key)),
    async listByUser(userId: string): Promise<StoredCredentials[]> {
      return (await store.listByUser(userId)).map(openListed);
    },
  };
  if (typeof store.acquireRefreshLease === "function" && typeof store.releaseRefreshLease === "function") {
    const acquire = store.acquireRefreshLease.bind(store);
    const release = store.releaseRefreshLease.bind(store);
    wrapper.acquireRefreshLease = (key: CredentialsKey, lease: RefreshLeaseOptions) => acquire(key, lease);
    wrapper.releaseRefreshLease = (key: CredentialsKey, owner: string) => release(key, owner);
    // Renewal too, or a wrapped store's lease would not be renewed while its refresh runs (and must outlast the slowest refresh).
    if (typeof store.renewRefreshLease === "function") {
      const renew = store.renewRefreshLease.bind(store);
      wrapper.renewRefreshLease = (key: CredentialsKey, lease: RefreshLeaseOptions) => renew(key, lease);
    }
  }
  if (typeof store.listExpiring === "function") {
    const list = store.listExpiring.bind(store);
    wrapper.listExpiring = async (contractId: string, listOptions: ListExpiringOptions) => (await list(contractId, listOptions)).map(openListed);
  }
  // The keys live in this closure only; inspecting the store shows how many there are, never their bytes.
  Object.defineProperty(wrapper, Symbol.for("nodejs.util.inspect.custom"), { value: () => `EncryptedTokenStore { keys: ${keys.length} }` });
  Object.defineProperty(wrapper, "toJSON", { value: () => ({ encryptedTokenStore: { keys: keys.length } }) });
  return Object.freeze(wrapper);
}
