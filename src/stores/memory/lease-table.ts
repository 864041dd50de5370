/**
 * Refresh leases held in this process's memory: what {@link MemoryTokenStore}
 * offers, since every client sharing one memory store shares its process.
 * @module
 */
import type { CredentialsKey } from "../token-store.js";

interface Lease {
  readonly owner: string;
  readonly expiresAt: number;
}

/** Leases by user and contract, expiring by `now`. */
export class LeaseTable {
  // userId → contractId → lease; nested like the records, so no joined key can collide.
  readonly #leases = new Map<string, Map<string, Lease>>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  acquire(key: CredentialsKey, owner: string, ttlMs: number): boolean {
    const now = this.#now();
    const held = this.#leases.get(key.userId)?.get(key.contractId);
    if (held !== undefined && held.expiresAt > now) return false;
    let contracts = this.#leases.get(key.userId);
    if (contracts === undefined) {
      contracts = new Map();
      this.#leases.set(key.userId, contracts);
    }
    contracts.set(key.contractId, { owner, expiresAt: now + ttlMs });
    return true;
  }

  renew(key: CredentialsKey, owner: string, ttlMs: number): boolean {
    const now = this.#now();
    const contracts = this.#leases.get(key.userId);
    const held = contracts?.get(key.contractId);
    if (contracts === undefined || held === undefined || held.owner !== owner || held.expiresAt <= now) return false;
    contracts.set(key.contractId, { owner, expiresAt: now + ttlMs });
    return true;
  }

  release(key: CredentialsKey, owner: string): void {
    const contracts = this.#leases.get(key.userId);
    if (contracts?.get(key.contractId)?.owner !== owner) return;
    contracts.delete(key.contractId);
    // Released leases leave nothing behind: memory follows refreshes in flight, not users seen.
    if (contracts.size === 0) this.#leases.delete(key.userId);
  }
}
