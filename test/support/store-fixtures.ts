/** Fixtures shared by the server-backed store suites: secrets that are easy to look for, and what an error shows. */
import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import type { AuthorizationBundle } from "../../src/authorization/bundle.js";
import type { UserAccessToken } from "../../src/sdk/types.js";

/** A token whose values are unique, so finding one anywhere is a leak. */
export function secretToken(tag: string): UserAccessToken {
  return {
    accessToken: { value: `access-secret-${tag}-${randomUUID()}`, expiry: 1_900_000_000 },
    refreshToken: { value: `refresh-secret-${tag}-${randomUUID()}`, expiry: 1_900_086_400 },
  };
}

/** A pending authorization with a unique state and code verifier, expiring in 10 minutes unless overridden. */
export function pendingBundle(overrides: Partial<AuthorizationBundle> = {}): AuthorizationBundle {
  return {
    state: `state-${randomUUID()}`,
    codeVerifier: `verifier-secret-${randomUUID()}`,
    userId: "alice",
    contractId: "contract-1",
    expiresAt: Date.now() + 600_000,
    ...overrides,
  };
}

/** Resolves with the rejection of `promise`, failing the test if it fulfils. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it fulfilled");
}

/** Everything an error shows: each message and `inspect` output down the cause chain. */
export function everythingShown(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current !== undefined && current !== null; current = (current as { cause?: unknown }).cause) {
    parts.push(String((current as { message?: unknown }).message), inspect(current, { depth: 10, showHidden: true }));
  }
  return parts.join("\n");
}

/** The option paths a `ValidationError` thrown by `construct` names (empty if it threw something else or nothing). */
export function rejectedOptionPaths(construct: () => unknown): string[] {
  try {
    construct();
  } catch (error) {
    const { code, issues } = error as { code?: unknown; issues?: Array<{ path: string }> };
    if (code === "INVALID_OPTIONS" && Array.isArray(issues)) return issues.map((issue) => issue.path);
  }
  return [];
}
