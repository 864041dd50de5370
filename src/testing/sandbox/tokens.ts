/**
 * Issued token pairs and their rules:
 * - access tokens are valid until their expiry, unless revoked by
 *   `expireAccessTokens`; rotating a pair does NOT revoke the old access token
 *   (the simple choice; the real service's behaviour is not documented);
 * - refresh tokens are single-use: rotating consumes the old one, and a used,
 *   expired or revoked refresh token is rejected;
 * - every token is bound to the library and contract it was issued for.
 * @module
 */
import type { Clock } from "./clock.js";
import { randomSecret } from "./random.js";

/**
 * One issued pair. Values never leave the sandbox except in the SDK's return
 * values and `latestToken`; nothing here is meant for messages or logs.
 *
 * @example
 * ```ts
 * const record: TokenRecord = tokens.issue("library-1", "contract-1", "consent-1");
 * ```
 */
export interface TokenRecord {
  readonly libraryId: string;
  readonly contractId: string;
  readonly consentId: string;
  readonly accessToken: { readonly value: string; readonly expiry: number };
  readonly refreshToken: { readonly value: string; readonly expiry: number };
  accessRevoked: boolean;
  refreshUsed: boolean;
  refreshRevoked: boolean;
}

/**
 * Token lifetimes in seconds.
 *
 * @example
 * ```ts
 * const lifetimes: TokenLifetimes = { accessSeconds: 3600, refreshSeconds: 30 * 86400 };
 * ```
 */
export interface TokenLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
}

/**
 * A filter for the bulk expiry operations.
 *
 * @example
 * ```ts
 * tokens.expireAccess({ libraryId: "library-1" });
 * ```
 */
export interface TokenFilter {
  libraryId?: string;
}

/**
 * Why a presented token was refused.
 *
 * @example
 * ```ts
 * const verdict: TokenVerdict = tokens.checkAccess(value, contractId);
 * if (verdict.ok) store(verdict.record.libraryId);
 * ```
 */
export type TokenVerdict = { ok: true; record: TokenRecord } | { ok: false; reason: "unknown" | "expired" | "revoked" | "used" | "wrong-contract" };

/**
 * The registry of issued token pairs.
 *
 * @example
 * ```ts
 * const tokens = new TokenRegistry(clock, { accessSeconds: 3600, refreshSeconds: 2592000 });
 * const first = tokens.issue("library-1", "contract-1", "consent-1");
 * const second = tokens.rotate(first.refreshToken.value, "contract-1"); // ok
 * tokens.rotate(first.refreshToken.value, "contract-1");                // { ok: false, reason: "used" }
 * ```
 */
export class TokenRegistry {
  readonly #clock: Clock;
  readonly #lifetimes: TokenLifetimes;
  readonly #byAccess = new Map<string, TokenRecord>();
  readonly #byRefresh = new Map<string, TokenRecord>();
  readonly #latest = new Map<string, TokenRecord>();

  constructor(clock: Clock, lifetimes: TokenLifetimes) {
    this.#clock = clock;
    this.#lifetimes = lifetimes;
  }

  /** Issue a new pair for a library and contract. */
  issue(libraryId: string, contractId: string, consentId: string): TokenRecord {
    const now = this.#clock.nowSeconds();
    const record: TokenRecord = {
      libraryId,
      contractId,
      consentId,
      accessToken: { value: randomSecret(), expiry: now + this.#lifetimes.accessSeconds },
      refreshToken: { value: randomSecret(), expiry: now + this.#lifetimes.refreshSeconds },
      accessRevoked: false,
      refreshUsed: false,
      refreshRevoked: false,
    };
    this.#byAccess.set(record.accessToken.value, record);
    this.#byRefresh.set(record.refreshToken.value, record);
    this.#latest.set(latestKey(libraryId, contractId), record);
    return record;
  }

  /** Register a pair issued earlier (restoring a snapshot); the last one restored per library and contract becomes its latest. */
  restore(pair: TokenRecord): TokenRecord {
    const record: TokenRecord = {
      libraryId: pair.libraryId,
      contractId: pair.contractId,
      consentId: pair.consentId,
      accessToken: { value: pair.accessToken.value, expiry: pair.accessToken.expiry },
      refreshToken: { value: pair.refreshToken.value, expiry: pair.refreshToken.expiry },
      accessRevoked: pair.accessRevoked,
      refreshUsed: pair.refreshUsed,
      refreshRevoked: pair.refreshRevoked,
    };
    this.#byAccess.set(record.accessToken.value, record);
    this.#byRefresh.set(record.refreshToken.value, record);
    this.#latest.set(latestKey(record.libraryId, record.contractId), record);
    return record;
  }

  /** Forget every pair issued (the dev server's reset): apps holding one then hear it is unknown. */
  clear(): void {
    this.#byAccess.clear();
    this.#byRefresh.clear();
    this.#latest.clear();
  }

  /** Every pair issued (or restored), oldest first. */
  records(): TokenRecord[] {
    return [...this.#byAccess.values()];
  }

  /** Whether an access token may be used by this contract now. */
  checkAccess(value: string, contractId: string): TokenVerdict {
    const record = this.#byAccess.get(value);
    if (record === undefined) return { ok: false, reason: "unknown" };
    if (record.contractId !== contractId) return { ok: false, reason: "wrong-contract" };
    if (record.accessRevoked) return { ok: false, reason: "revoked" };
    if (this.#clock.nowSeconds() >= record.accessToken.expiry) return { ok: false, reason: "expired" };
    return { ok: true, record };
  }

  /** Consume a refresh token and issue the next pair (same library, contract and consent). */
  rotate(refreshValue: string, contractId: string): TokenVerdict {
    const record = this.#byRefresh.get(refreshValue);
    if (record === undefined) return { ok: false, reason: "unknown" };
    if (record.contractId !== contractId) return { ok: false, reason: "wrong-contract" };
    if (record.refreshUsed) return { ok: false, reason: "used" };
    if (record.refreshRevoked) return { ok: false, reason: "revoked" };
    if (this.#clock.nowSeconds() >= record.refreshToken.expiry) return { ok: false, reason: "expired" };
    record.refreshUsed = true;
    return { ok: true, record: this.issue(record.libraryId, record.contractId, record.consentId) };
  }

  /** The library an access token belongs to, expired or not. */
  libraryOfAccess(value: string): string | undefined {
    return this.#byAccess.get(value)?.libraryId;
  }

  /** The consent an access token was issued under, expired or not. */
  consentOfAccess(value: string): string | undefined {
    return this.#byAccess.get(value)?.consentId;
  }

  /** The library a refresh token belongs to, used or not. */
  libraryOfRefresh(value: string): string | undefined {
    return this.#byRefresh.get(value)?.libraryId;
  }

  /** The newest pair issued for a library and contract. */
  latest(libraryId: string, contractId: string): TokenRecord | undefined {
    return this.#latest.get(latestKey(libraryId, contractId));
  }

  /** Revoke every access token issued so far (optionally of one library). */
  expireAccess(filter: TokenFilter = {}): void {
    for (const record of this.#byAccess.values()) {
      if (filter.libraryId === undefined || record.libraryId === filter.libraryId) record.accessRevoked = true;
    }
  }

  /** Revoke every refresh token issued so far (optionally of one library). */
  expireRefresh(filter: TokenFilter = {}): void {
    for (const record of this.#byRefresh.values()) {
      if (filter.libraryId === undefined || record.libraryId === filter.libraryId) record.refreshRevoked = true;
    }
  }

  /** How many pairs were issued. */
  get size(): number {
    return this.#byAccess.size;
  }
}

function latestKey(libraryId: string, contractId: string): string {
  return `${libraryId}\u0000${contractId}`;
}
