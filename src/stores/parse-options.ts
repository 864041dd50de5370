import type { z } from "zod";
import { ValidationError } from "../errors.js";
import { toValidationIssues } from "../tokens/credentials-schema.js";

/** @internal Parses a store's constructor options, or throws `INVALID_OPTIONS` naming each bad field as `options.<field>`. */
export function parseStoreOptions<S extends z.ZodType>(schema: S, input: unknown, storeName: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ValidationError("INVALID_OPTIONS", `${storeName} options`, toValidationIssues("options", result.error.issues));
  }
  return result.data;
}
