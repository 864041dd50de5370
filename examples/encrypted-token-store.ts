/**
 * Tokens encrypted at rest: a TokenStore that wraps any other and encrypts the
 * two token values (A256GCM through jose) before they reach it. Versions,
 * keys and compare-and-set pass through, so `tokenStoreContract` holds for it
 * (test/examples/encrypted-token-store.test.ts runs it over the memory and
 * file stores). Shown in docs/token-stores.md.
 *
 * In your own app, import from "digime-write-pipeline" instead of ../src.
 */
import { CompactEncrypt, compactDecrypt } from "jose";
import type { Credentials, CredentialsKey, RefreshLeaseOptions, SetOptions, SetResult, StoredCredentials, TokenStore } from "../src/stores.js";

export class EncryptedTokenStore implements TokenStore {
  /** `key`: 32 random bytes, e.g. Buffer.from(process.env.DIGIME_TOKEN_KEY!, "base64"). */
  constructor(private readonly inner: TokenStore, private readonly key: Uint8Array) {}

  async get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    const record = await this.inner.get(key);
    return record === undefined ? undefined : this.#open(record);
  }

  async set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    const result = await this.inner.set(key, await this.#seal(credentials), options);
    if (result.status === "stored") return { status: "stored", record: await this.#open(result.record) };
    return { status: "conflict", current: result.current === undefined ? undefined : await this.#open(result.current) };
  }

  delete(key: CredentialsKey): Promise<boolean> {
    return this.inner.delete(key);
  }

  async listByUser(userId: string): Promise<StoredCredentials[]> {
    return Promise.all((await this.inner.listByUser(userId)).map((record) => this.#open(record)));
  }

  // Refresh leases pass through, so processes sharing the inner store still refresh one at a time.
  async acquireRefreshLease(key: CredentialsKey, options: RefreshLeaseOptions): Promise<boolean> {
    if (this.inner.acquireRefreshLease === undefined) throw new Error("the inner store has no refresh leases");
    return this.inner.acquireRefreshLease(key, options);
  }

  async releaseRefreshLease(key: CredentialsKey, owner: string): Promise<void> {
    await this.inner.releaseRefreshLease?.(key, owner);
  }

  async #seal<T extends Credentials>(credentials: T): Promise<T> {
    const { accessToken, refreshToken } = credentials.userAccessToken;
    const seal = (value: string) =>
      new CompactEncrypt(new TextEncoder().encode(value)).setProtectedHeader({ alg: "dir", enc: "A256GCM" }).encrypt(this.key);
    return {
      ...credentials,
      userAccessToken: {
        ...credentials.userAccessToken,
        accessToken: { ...accessToken, value: await seal(accessToken.value) },
        refreshToken: { ...refreshToken, value: await seal(refreshToken.value) },
      },
    };
  }

  async #open<T extends Credentials>(credentials: T): Promise<T> {
    const { accessToken, refreshToken } = credentials.userAccessToken;
    const open = async (value: string) => new TextDecoder().decode((await compactDecrypt(value, this.key)).plaintext);
    return {
      ...credentials,
      userAccessToken: {
        ...credentials.userAccessToken,
        accessToken: { ...accessToken, value: await open(accessToken.value) },
        refreshToken: { ...refreshToken, value: await open(refreshToken.value) },
      },
    };
  }
}
