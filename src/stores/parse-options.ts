import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "../errors.js";
import { formatPath, toValidationIssues } from "./credentials-schema.js";

/** @internal Parses a store's constructor options, or throws `INVALID_OPTIONS` naming each bad field as `options.<field>`. */
export function parseStoreOptions<S extends z.ZodType>(schema: S, input: unknown, storeName: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.flatMap((issue) =>
    // zod reports unknown keys as one issue on the object; name each key, as for any other bad field.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: formatPath("options", [...issue.path, key]), message: "is not an option of this store" }))
      : toValidationIssues("options", [issue]),
  );
  throw new ValidationError("INVALID_OPTIONS", `${storeName} options`, issues);
}
