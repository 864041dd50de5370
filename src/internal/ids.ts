/**
 * One definition of a valid user or contract id, used at every entry (the
 * client, token stores, pending stores, the durable queue).
 *
 * Why more than "a non-empty string": ids become bytes in Redis keys and
 * PostgreSQL text. A lone surrogate (`"Jos\uD800"`) is encoded as U+FFFD, so
 * it would share a token slot with `"Jos\uFFFD"`, another user's id; a NUL
 * makes every PostgreSQL write fail; other control characters forge log lines.
 * So an id must be well-formed Unicode without control characters.
 */
import { z } from "zod";

/** Longest id anywhere (stores accept up to this; the client asks for less). */
export const MAX_ID_LENGTH = 1024;

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** C0, DEL and C1 controls: they never belong in an id and break logs and databases. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Printable ASCII only: well-formed, and no control character. Most ids are this, and one test settles them. */
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

/** Why `value` is not a well-formed id, or `undefined` when it is one. Never quotes the value. */
export function idProblem(value: string, max: number = MAX_ID_LENGTH): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > max) return `must be at most ${max} characters`;
  if (PRINTABLE_ASCII.test(value)) return undefined;
  if (LONE_SURROGATE.test(value)) return "must be well-formed Unicode (no lone surrogate)";
  if (CONTROL.test(value)) return "must not contain control characters";
  return undefined;
}

/** Fast check for hot paths (every store call): true when `value` is a well-formed id. */
export function isWellFormedId(value: unknown, max: number = MAX_ID_LENGTH): value is string {
  return typeof value === "string" && idProblem(value, max) === undefined;
}

/**
 * The zod schema of an id of at most `max` characters. Messages name what is
 * wrong, never the value.
 *
 * @example
 * ```ts
 * z.object({ userId: idSchema(256) }).parse({ userId: "alice" });
 * ```
 */
export function idSchema(max: number = MAX_ID_LENGTH): z.ZodType<string> {
  return z.string({ error: "must be a non-empty string" }).superRefine((value, ctx) => {
    const problem = idProblem(value, max);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });
}

/** User ids in the client's public API (`beginAuthorization`, `write`, the durable queue). */
export const userIdSchema = idSchema(256);
