/**
 * The one conversion from zod's issues to ours: every input the library
 * checks (options, arguments, callbacks, store records) is reported the same
 * way, each bad field named by its path and an unknown key worded alike.
 */
import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors.js";

/**
 * Formats a zod path as `prefix.a.b[3].c`.
 *
 * @example
 * ```ts
 * formatPath("records", [2, "userAccessToken"]); // "records[2].userAccessToken"
 * ```
 */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Turn zod issues into ours, with the path prefixed by the argument's name. */
export function toIssues(issues: readonly z.core.$ZodIssue[], prefix: string): ValidationIssue[] {
  return issues.flatMap((issue) =>
    // A strict object's unknown keys: one issue per key, the path naming it (a misspelling is then easy to spot).
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: formatPath(prefix, [...issue.path, key]), message: "is not a known field (misspelt?)" }))
      : [{ path: formatPath(prefix, issue.path), message: issue.message }],
  );
}

/**
 * Parse `input` with `schema`, or throw a {@link ValidationError} naming each
 * bad field as `<name>.<path>`; `subject` words the message ("Invalid
 * <subject>: …"), by default `name`.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  code: "INVALID_OPTIONS" | "INVALID_ARGUMENT" | "INVALID_CALLBACK",
  name: string,
  subject: string = name,
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(code, subject, toIssues(result.error.issues, name));
  return result.data;
}
