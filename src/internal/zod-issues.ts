import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors.js";

/** Turn zod issues into ours, with the path prefixed by the argument's name. */
export function toIssues(error: z.ZodError, prefix: string): ValidationIssue[] {
  return error.issues.map((issue) => {
    const tail = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
    return { path: `${prefix}${tail}`, message: issue.message };
  });
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
