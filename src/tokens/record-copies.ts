/**
 * How stores hand records in and out: stored records are frozen, callers get
 * mutable copies, so nobody can change what a store holds behind its back.
 */
import type { StoredCredentials } from "./token-store.js";

/** A mutable copy of a stored (frozen) record. */
export function copyOut(record: StoredCredentials | undefined): StoredCredentials | undefined {
  return record === undefined ? undefined : structuredClone(record);
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
