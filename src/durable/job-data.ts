/**
 * What a durable write keeps in its BullMQ job (the user, the file's meta and
 * the payload or its key, never a token), how its id maps to a job id, and
 * how receipts and typed errors travel through Redis between worker and
 * producer.
 * @module
 */
import { z } from "zod";
import {
  DeliveryError,
  DigimeWriteError,
  NotAuthorizedError,
  ReauthorizationRequiredError,
  TokenStoreError,
  ValidationError,
  type ErrorCode,
} from "../errors.js";
import type { WriteReceipt } from "../events.js";
import type { FileDescriptor } from "../sdk/types.js";

/** BullMQ job names. */
export const WRITE_JOB = "write";
export const UPKEEP_JOB = "token-upkeep";

/** The payload of a write job. */
export type JobPayload =
  | { kind: "inline"; base64: string }
  | { kind: "stored"; key: string }
  /** Delivered or finally failed: the bytes are gone. */
  | { kind: "released" };

/** A write job's data. */
export interface WriteJobData {
  v: 1;
  id: string;
  userId: string;
  fileName: string;
  fileDescriptor: FileDescriptor;
  payload: JobPayload;
}

const jobDataSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  userId: z.string().min(1),
  fileName: z.string().min(1),
  fileDescriptor: z.object({ mimeType: z.string(), accounts: z.array(z.object({ accountId: z.string() })) }).loose(),
  payload: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("inline"), base64: z.string() }),
    z.object({ kind: z.literal("stored"), key: z.string() }),
    z.object({ kind: z.literal("released") }),
  ]),
});

/** Whether `value` is a non-empty string. */
function filled(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/** Whether `value` is an object (not null, not an array) with exactly `count` own enumerable keys. */
function objectWithKeys(value: unknown, count: number): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  let keys = 0;
  for (const key in value) if (Object.hasOwn(value, key)) keys += 1;
  return keys === count;
}

/**
 * The data as our producer writes it, checked by hand: exactly the schema's
 * keys (the descriptor may hold more, as the schema lets it), so the data
 * itself is what the schema would return. `undefined` sends anything else
 * through the schema. A zod parse per job cost about 1 µs in a tight loop
 * and more on a busy worker; this costs a tenth of it.
 */
function producedJobData(data: unknown): WriteJobData | undefined {
  if (!objectWithKeys(data, 6)) return undefined;
  const { v, id, userId, fileName, fileDescriptor: descriptor, payload } = data;
  if (v !== 1 || !filled(id) || !filled(userId) || !filled(fileName)) return undefined;
  if (typeof descriptor !== "object" || descriptor === null || Array.isArray(descriptor)) return undefined;
  const { mimeType, accounts } = descriptor as { mimeType?: unknown; accounts?: unknown };
  if (typeof mimeType !== "string" || !Array.isArray(accounts)) return undefined;
  for (const account of accounts as unknown[]) if (!objectWithKeys(account, 1) || typeof account.accountId !== "string") return undefined;
  if (!objectWithKeys(payload, 2)) return undefined;
  const checked = payload.kind === "inline" ? typeof payload.base64 === "string" : payload.kind === "stored" && typeof payload.key === "string";
  return checked ? (data as unknown as WriteJobData) : undefined;
}

/** The job's data, checked: a job written by something else fails loudly, not half-way. */
export function parseJobData(data: unknown): WriteJobData {
  const produced = producedJobData(data);
  if (produced !== undefined) return produced;
  const parsed = jobDataSchema.safeParse(data);
  if (!parsed.success) throw new ValidationError("INVALID_ARGUMENT", "job.data", [{ path: "job.data", message: "is not a digime-write-pipeline write job" }]);
  return parsed.data as WriteJobData;
}

/** Escapes `%`, `:` and `/` so a part of a job id is unambiguous and reversible. */
function escapePart(part: string): string {
  return part.replaceAll("%", "%25").replaceAll(":", "%3A").replaceAll("/", "%2F");
}

function unescapePart(part: string): string {
  return part.replaceAll("%2F", "/").replaceAll("%3A", ":").replaceAll("%25", "%");
}

/**
 * The BullMQ job id of a user's write id. Ids belong to their user: the job
 * id holds both, so the same id from two users names two writes, and
 * BullMQ's own atomic "add unless this job id exists" is the idempotency
 * check. BullMQ refuses integer-looking ids and ids with `:`; a prefix and
 * escaping keep every pair usable and the mapping reversible.
 */
export function jobIdOf(userId: string, id: string): string {
  return `w-${escapePart(userId)}/${escapePart(id)}`;
}

/** A write's user and id. */
export interface WriteRef {
  userId: string;
  id: string;
}

/** The user and write id of a job id made by {@link jobIdOf}; `undefined` for other jobs. */
export function writeRefOf(jobId: string | undefined): WriteRef | undefined {
  if (jobId === undefined || !jobId.startsWith("w-")) return undefined;
  const parts = jobId.slice(2).split("/");
  if (parts.length !== 2) return undefined;
  return { userId: unescapePart(parts[0]!), id: unescapePart(parts[1]!) };
}

/** Marks a failed reason this library wrote. */
const ERROR_PREFIX = "digime-write-error:";

/** What crosses Redis of a typed error: code, message and the documented fields, no cause. */
interface EncodedError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  attempts?: number | undefined;
  httpStatus?: number | undefined;
  sdkErrorCode?: string | undefined;
  possiblyDelivered?: boolean | undefined;
  userId?: string | undefined;
  reason?: string | undefined;
}

/** The failed reason a worker stores for `error` (already scrubbed by the client). */
export function encodeError(error: unknown): string {
  const e = error instanceof DigimeWriteError ? error : undefined;
  const fields = (e ?? {}) as Partial<EncodedError>;
  const encoded: EncodedError = {
    code: e?.code ?? "DELIVERY_REJECTED",
    message: e?.message ?? "The write failed unexpectedly in the worker",
    retryable: e?.retryable ?? false,
    attempts: fields.attempts,
    httpStatus: fields.httpStatus,
    sdkErrorCode: fields.sdkErrorCode,
    possiblyDelivered: fields.possiblyDelivered,
    userId: fields.userId,
    reason: fields.reason,
  };
  return ERROR_PREFIX + JSON.stringify(encoded);
}

function decodeFields(failedReason: string | undefined): EncodedError | undefined {
  if (failedReason === undefined || !failedReason.startsWith(ERROR_PREFIX)) return undefined;
  try {
    return JSON.parse(failedReason.slice(ERROR_PREFIX.length)) as EncodedError;
  } catch {
    return undefined;
  }
}

/** Whether the run that failed with `failedReason` may have stored the file. */
export function failedPossiblyDelivered(failedReason: string | undefined): boolean {
  return decodeFields(failedReason)?.possiblyDelivered === true;
}

/**
 * The typed error a producer sees for a job that finally failed: the class
 * `client.write` would have rejected with, rebuilt from its code. A job that
 * BullMQ failed itself (stalled too often) becomes a possibly delivered
 * `DELIVERY_RETRIES_EXHAUSTED`.
 */
export function decodeError(failedReason: string | undefined, attempts: number, possibleDuplicate: boolean): DigimeWriteError {
  const f = decodeFields(failedReason);
  if (f === undefined) {
    return new DeliveryError(
      "DELIVERY_RETRIES_EXHAUSTED",
      `The durable write failed in the queue after ${attempts} run(s): ${failedReason ?? "no reason given"}`,
      { attempts, possiblyDelivered: true },
    );
  }
  const possiblyDelivered = f.possiblyDelivered === true || possibleDuplicate;
  switch (f.code) {
    case "DELIVERY_REJECTED":
    case "DELIVERY_RETRIES_EXHAUSTED":
    case "DELIVERY_ATTEMPT_FAILED":
    case "STREAM_NOT_RETRYABLE":
      return new DeliveryError(f.code, f.message, { attempts: f.attempts ?? attempts, httpStatus: f.httpStatus, sdkErrorCode: f.sdkErrorCode, possiblyDelivered });
    case "REAUTHORIZATION_REQUIRED":
      return new ReauthorizationRequiredError(f.userId ?? "", f.reason ?? "the token was refused", { possiblyDelivered });
    case "USER_NOT_AUTHORIZED":
      return new NotAuthorizedError(f.userId ?? "");
    case "TOKEN_STORE_FAILED":
      return new TokenStoreError(f.message);
    case "INVALID_ARGUMENT":
      return new ValidationError("INVALID_ARGUMENT", "fileMeta", [{ path: "fileMeta", message: f.message }]);
    default:
      return new DeliveryError("DELIVERY_REJECTED", `${f.code}: ${f.message}`, { attempts, possiblyDelivered });
  }
}

const receiptSchema = z.object({
  id: z.string(),
  userId: z.string(),
  status: z.literal("delivered"),
  attempts: z.number(),
  durationMs: z.number(),
  tokenRefreshed: z.boolean(),
  possibleDuplicate: z.boolean(),
});

/** A receipt read back from a job's return value (a JSON string or the parsed object). */
export function decodeReceipt(returnValue: unknown): WriteReceipt {
  const value = typeof returnValue === "string" ? (JSON.parse(returnValue) as unknown) : returnValue;
  return Object.freeze(receiptSchema.parse(value)) as WriteReceipt;
}
