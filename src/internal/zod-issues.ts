import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors.js";

/** Turn zod issues into ours, with the path prefixed by the argument's name. */
export function toIssues(error: z.ZodError, prefix: string): ValidationIssue[] {
  const pathOf = (parts: readonly PropertyKey[]) => `${prefix}${parts.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("")}`;
  return error.issues.flatMap((issue) =>
    // A strict object's unknown keys: one issue per key, the path naming it (a misspelling is then easy to spot).
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: "is not a known field (misspelt?)" }))
      : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

/** Parse `input` with `schema`, or throw a {@link ValidationError} naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  code: "INVALID_OPTIONS" | "INVALID_ARGUMENT" | "INVALID_CALLBACK",
  name: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(code, name, toIssues(result.error, name));
  return result.data;
}
