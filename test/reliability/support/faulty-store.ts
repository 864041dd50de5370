/**
 * A TokenStore wrapper that misbehaves on purpose, at random (seeded): it
 * throws, never answers, answers late (and then still applies a `set`), or
 * refuses a compare-and-set by reporting a conflict it did not have.
 */
import type { Credentials, CredentialsKey, SetOptions, SetResult, StoredCredentials, TokenStore } from "../../../src/stores.js";
import { prng } from "./soak.js";

export interface StoreFaults {
  /** Chance that a call throws. */
  fail: number;
  /** Chance that a call never settles. */
  hang: number;
  /** Chance that a call answers only after `slowMs` (a `set` is applied then too). */
  slow: number;
  slowMs: number;
  /** Chance that a `set` reports a conflict without writing. */
  conflict: number;
}

export const HEALTHY: StoreFaults = { fail: 0, hang: 0, slow: 0, slowMs: 0, conflict: 0 };

export class FaultyStore implements TokenStore {
  readonly inner: TokenStore;
  faults: StoreFaults = HEALTHY;
  readonly counts = { calls: 0, failed: 0, hung: 0, slow: 0, conflicts: 0, lateSets: 0 };
  readonly #random: () => number;

  constructor(inner: TokenStore, seed: number) {
    this.inner = inner;
    this.#random = prng(seed);
  }

  async #run<T>(call: () => Promise<T>, isSet = false): Promise<T> {
    this.counts.calls += 1;
    const { fail, hang, slow, slowMs } = this.faults;
    const draw = this.#random();
    if (draw < fail) {
      this.counts.failed += 1;
      throw new Error("connection to the token database was lost");
    }
    if (draw < fail + hang) {
      this.counts.hung += 1;
      return new Promise<T>(() => undefined);
    }
    if (draw < fail + hang + slow) {
      this.counts.slow += 1;
      await new Promise((resolve) => setTimeout(resolve, slowMs));
      if (isSet) this.counts.lateSets += 1;
    }
    return call();
  }

  get(key: CredentialsKey): Promise<StoredCredentials | undefined> {
    return this.#run(() => this.inner.get(key));
  }

  set(key: CredentialsKey, credentials: Credentials, options: SetOptions): Promise<SetResult> {
    if (this.#random() < this.faults.conflict) {
      this.counts.conflicts += 1;
      return this.inner.get(key).then((current) => ({ status: "conflict", current }) as SetResult);
    }
    return this.#run(() => this.inner.set(key, credentials, options), true);
  }

  delete(key: CredentialsKey): Promise<boolean> {
    return this.#run(() => this.inner.delete(key));
  }

  listByUser(userId: string): Promise<StoredCredentials[]> {
    return this.#run(() => this.inner.listByUser(userId));
  }
}
