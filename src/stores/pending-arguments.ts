/** The arguments of `PendingAuthorizationStore` methods, checked the same way by every shared pending store. */
import { z } from "zod";
import { authorizationBundleSchema, type AuthorizationBundle } from "../authorization/bundle.js";
import { parseOrThrow } from "../internal/zod-issues.js";

const stateSchema = z.string({ error: "must be a non-empty string" }).min(1, { error: "must be a non-empty string" }).max(1024, {
  error: "must be at most 1024 characters",
});
const usedUntilSchema = z.number({ error: "must be a positive integer (epoch ms)" }).int({ error: "must be a positive integer (epoch ms)" }).positive({
  error: "must be a positive integer (epoch ms)",
});

/** Checks `save`'s bundle; throws `INVALID_ARGUMENT` naming the field (`bundle.state`, …). */
export function parseBundle(bundle: unknown): AuthorizationBundle {
  return parseOrThrow(authorizationBundleSchema, bundle, "INVALID_ARGUMENT", "bundle") as AuthorizationBundle;
}

/** Checks `consume`'s arguments; throws `INVALID_ARGUMENT` naming `state` or `usedUntil`. */
export function parseConsumeArguments(state: unknown, usedUntil: unknown): { state: string; usedUntil: number } {
  return {
    state: parseOrThrow(stateSchema, state, "INVALID_ARGUMENT", "state"),
    usedUntil: parseOrThrow(usedUntilSchema, usedUntil, "INVALID_ARGUMENT", "usedUntil"),
  };
}
