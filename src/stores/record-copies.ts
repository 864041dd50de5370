/**
 * How stores hand records in and out: stored records are frozen, callers get
 * mutable copies, so nobody can change what a store holds behind its back.
 */
import type { StoredCredentials } from "./token-store.js";

/**
 * A mutable copy of a stored (frozen) record. Records hold JSON values only
 * (the credential schemas admit nothing else), so a plain recursive copy is
 * the same as `structuredClone`, at a fraction of its cost: this runs on
 * every write. Anything unexpected still goes through `structuredClone`.
 */
export function copyOut(record: StoredCredentials | undefined): StoredCredentials | undefined {
  return record === undefined ? undefined : (copyJson(record) as StoredCredentials);
}

function copyJson(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  // Spread defines own properties (an own "__proto__" key stays a plain property), unfrozen.
  const copy: Record<string, unknown> = { ...value };
  for (const key in copy) {
    const child = copy[key];
    if (typeof child === "object" && child !== null) copy[key] = copyJson(child);
  }
  return copy;
}

/** Freeze `value` and everything it holds. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Records in a userId → contractId → record map. */
export function countRecords(records: ReadonlyMap<string, ReadonlyMap<string, unknown>>): number {
  let count = 0;
  for (const contracts of records.values()) count += contracts.size;
  return count;
}
