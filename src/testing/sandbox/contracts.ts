/**
 * The application's contracts and how a caller proves it holds one: the
 * `contractId` must be known and the `privateKey` must be that contract's key
 * (the stand-in for the server verifying the request JWT's signature).
 * @module
 */
import { generateRsaKeyPairSync, privateKeyFingerprint, publicKeyFingerprint } from "./keys.js";
import { randomId } from "./random.js";
import type { SandboxContract } from "./types.js";

/**
 * A contract and its key pair.
 *
 * @example
 * ```ts
 * const contract: ContractRecord = contracts.create();
 * ```
 */
export interface ContractRecord {
  readonly contractId: string;
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * The contracts of the sandbox's application.
 *
 * @example
 * ```ts
 * const contracts = new ContractRegistry();
 * const { contractId, privateKey } = contracts.create();
 * contracts.authenticate({ contractId, privateKey }); // the record
 * ```
 */
export class ContractRegistry {
  readonly #contracts = new Map<string, ContractRecord>();

  /** A new contract with a fresh RSA-2048 key pair. */
  create(): ContractRecord {
    const keys = generateRsaKeyPairSync();
    const record: ContractRecord = { contractId: randomId("contract"), privateKey: keys.privateKey, publicKey: keys.publicKey };
    this.#contracts.set(record.contractId, record);
    return record;
  }

  /** Register a contract with known keys (restoring a snapshot). Throws if the id is taken by other keys. */
  restore(record: ContractRecord): ContractRecord {
    const existing = this.#contracts.get(record.contractId);
    if (existing !== undefined && existing.privateKey !== record.privateKey) throw new Error(`Sandbox already has a contract "${record.contractId}" with other keys`);
    const copy: ContractRecord = { contractId: record.contractId, privateKey: record.privateKey, publicKey: record.publicKey };
    this.#contracts.set(copy.contractId, copy);
    return copy;
  }

  /** Every contract, in creation order. */
  records(): ContractRecord[] {
    return [...this.#contracts.values()];
  }

  /** The contract by id. */
  get(contractId: string): ContractRecord | undefined {
    return this.#contracts.get(contractId);
  }

  /** The contract these credentials prove, or undefined when id or key do not match. */
  authenticate(credentials: SandboxContract): ContractRecord | undefined {
    const record = this.#contracts.get(credentials.contractId);
    if (record === undefined) return undefined;
    if (normalizePem(credentials.privateKey) === normalizePem(record.privateKey)) return record;
    // A re-encoded copy of the right key still signs correctly.
    const presented = privateKeyFingerprint(credentials.privateKey);
    return presented !== undefined && presented === publicKeyFingerprint(record.publicKey) ? record : undefined;
  }

  /** Number of contracts. */
  get size(): number {
    return this.#contracts.size;
  }
}

function normalizePem(pem: string): string {
  return pem.replace(/\r\n/g, "\n").trim();
}
