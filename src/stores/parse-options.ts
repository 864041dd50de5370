import type { z } from "zod";
import { parseOrThrow } from "../internal/zod-issues.js";

/** Parses a store's (or queue's) constructor options, or throws `INVALID_OPTIONS` naming each bad field as `options.<field>`. */
export function parseStoreOptions<S extends z.ZodType>(schema: S, input: unknown, storeName: string): z.output<S> {
  return parseOrThrow(schema, input, "INVALID_OPTIONS", "options", `${storeName} options`);
}
