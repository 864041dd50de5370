/**
 * Parked writes: a durable write whose delivery needs the user's new consent
 * (`REAUTHORIZATION_REQUIRED`) is not failed. Its job waits in BullMQ's
 * delayed set until `parkForMs` has passed, and a record beside the queue
 * says why; when a worker sees a new token for the user in the shared token
 * store, it promotes the user's parked jobs and they run again at once. A
 * job that reaches its time still parked fails with the original error.
 *
 * Keys, beside BullMQ's own (one hash slot with a tagged prefix):
 * `dwp:parked` (hash: job id → {@link ParkedRecord} JSON) and `dwp:resumed`
 * (set of job ids promoted by a resume, so the next run knows it was one).
 * @module
 */

import type { ParkedUser } from "./durable-write-queue.js";

export const PARKED_KEY = "dwp:parked";
export const RESUMED_KEY = "dwp:resumed";
/** Custom event names in BullMQ's event stream (BullMQ's own `resumed` is the queue's). */
export const PARKED_EVENT = "dwp-parked";
export const RESUMED_EVENT = "dwp-resumed";
/** BullMQ's default bound on the event stream. */
const MAX_EVENTS = 10_000;

/** What is kept of a parked write. */
export interface ParkedRecord {
  userId: string;
  /** When it was parked, epoch ms. */
  parkedAt: number;
  /** When it fails unless resumed, epoch ms. */
  until: number;
  /** The failed reason to fail with at `until` (encodeError's output). */
  reason: string;
  /** The user's token as the store had it when parking (expiry times): a different one is a new consent. */
  fingerprint: string;
  /** The refused run may have stored the file. */
  possiblyDelivered: boolean;
}

export function parseParkedRecord(json: string | null | undefined): ParkedRecord | undefined {
  if (typeof json !== "string") return undefined;
  try {
    const record = JSON.parse(json) as Partial<ParkedRecord>;
    if (typeof record.userId !== "string" || typeof record.until !== "number" || typeof record.parkedAt !== "number" || typeof record.reason !== "string") return undefined;
    return { userId: record.userId, parkedAt: record.parkedAt, until: record.until, reason: record.reason, fingerprint: String(record.fingerprint ?? ""), possiblyDelivered: record.possiblyDelivered === true };
  } catch {
    return undefined;
  }
}

/** KEYS: parked hash, resumed set, events stream. ARGV: job id, record JSON, until. Records the park and announces it. */
export const PARK_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ${MAX_EVENTS}, '*', 'event', '${PARKED_EVENT}', 'jobId', ARGV[1], 'until', ARGV[3])
return 1
`;

/** KEYS: parked hash, resumed set, events stream. ARGV: job id. Marks a parked job resumed, once; announces it. */
export const RESUME_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ${MAX_EVENTS}, '*', 'event', '${RESUMED_EVENT}', 'jobId', ARGV[1])
return 1
`;

/** KEYS: parked hash, resumed set. ARGV: job id. A run takes its job's park record: `[record or false, 1 if it was resumed]`. */
export const UNPARK_SCRIPT = `
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return {false, 0} end
redis.call('HDEL', KEYS[1], ARGV[1])
return {record, redis.call('SREM', KEYS[2], ARGV[1])}
`;

/** Groups the parked hash's entries by user (resumed ones excluded). */
export function parkedUsersOf(entries: Record<string, string>, resumed: ReadonlySet<string>): ParkedUser[] {
  const users = new Map<string, { count: number; oldestParkedAt: number; firstExpiresAt: number }>();
  for (const [jobId, json] of Object.entries(entries)) {
    if (resumed.has(jobId)) continue;
    const record = parseParkedRecord(json);
    if (record === undefined) continue;
    const user = users.get(record.userId);
    if (user === undefined) users.set(record.userId, { count: 1, oldestParkedAt: record.parkedAt, firstExpiresAt: record.until });
    else {
      user.count += 1;
      user.oldestParkedAt = Math.min(user.oldestParkedAt, record.parkedAt);
      user.firstExpiresAt = Math.min(user.firstExpiresAt, record.until);
    }
  }
  return [...users].map(([userId, u]) => Object.freeze({ userId, ...u })).sort((a, b) => a.oldestParkedAt - b.oldestParkedAt);
}
