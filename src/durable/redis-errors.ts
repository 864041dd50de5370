/**
 * Which Redis failures a retry can cure. `QUEUE_UNAVAILABLE` tells the app to
 * enqueue again once Redis is back; a reply that will be the same however
 * often it is retried (a cross-slot script on Redis Cluster, a wrong key
 * type, refused credentials) must say what to fix instead.
 * @module
 */
import { QueueMisconfiguredError, QueueUnavailableError, type DigimeWriteError } from "../errors.js";
import { sanitizeError } from "../internal/redact.js";

/** Reply prefixes no retry cures, each with the fix the message names. */
const PERMANENT: ReadonlyArray<[RegExp, string, string]> = [
  [/^CROSSSLOT\b|same slots allocation group|do not hash to the same slot|non local key/, "CROSSSLOT", 'on Redis Cluster, give the queue and its workers a hash-tagged prefix, such as prefix: "{digime}"'],
  [/^MOVED\b|^ASK\b/, "MOVED", "this Redis is a cluster node: connect with an ioredis Cluster and a hash-tagged prefix, such as prefix: \"{digime}\""],
  [/^NOSCRIPT\b/, "NOSCRIPT", "Redis refused a Lua script: check that scripting is allowed for this user (ACL) and that the server is Redis 6.2 or later"],
  [/^WRONGTYPE\b/, "WRONGTYPE", "another program uses this queue's keys: give the queue a queueName or prefix of its own"],
  [/^NOAUTH\b/, "NOAUTH", "Redis requires a password: set password (and username) in the connection options"],
  [/^WRONGPASS\b|invalid username-password/, "WRONGPASS", "Redis refused the credentials: check username and password in the connection options"],
  [/^NOPERM\b/, "NOPERM", "the Redis user lacks a permission the queue needs: grant it the keys of the prefix and scripting (EVAL, EVALSHA)"],
];

/** The permanent error that `error` (a Redis reply) is, if it is one. */
export function permanentRedisError(error: unknown, operation: string): QueueMisconfiguredError | undefined {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  for (const [pattern, name, fix] of PERMANENT) {
    if (pattern.test(message)) return new QueueMisconfiguredError(name, `${fix} (while ${operation})`, { cause: sanitizeError(error) });
  }
  return undefined;
}

/** The last connection-level error a client reported (refused credentials show only there). */
export interface RedisErrorWatch {
  last: unknown;
}

/** Records the connection errors of an emitter (BullMQ's `error` event), keeping the last. */
export function watchRedisErrors(emitter: { on(event: "error", listener: (error: Error) => void): unknown }): RedisErrorWatch {
  const watch: RedisErrorWatch = { last: undefined };
  emitter.on("error", (error) => (watch.last = error));
  return watch;
}

/** The typed error for a failed Redis call: misconfigured when no retry cures it, else unavailable. */
export function asQueueError(error: unknown, operation: string, watch?: RedisErrorWatch): DigimeWriteError {
  return permanentRedisError(error, operation) ?? (watch === undefined ? undefined : permanentRedisError(watch.last, operation)) ?? new QueueUnavailableError(operation, { cause: sanitizeError(error) });
}

/**
 * On Redis Cluster every key of a queue must hash to one slot (BullMQ's
 * scripts touch several), which only a hash-tagged prefix (`{…}`) ensures.
 * Returns the error to throw, or `undefined` when the connection is not a
 * cluster or the prefix is tagged.
 */
export function clusterPrefixProblem(connection: unknown, prefix: string | undefined, what: string): QueueMisconfiguredError | undefined {
  const cluster = (connection as { isCluster?: unknown } | null)?.isCluster === true;
  if (!cluster) return undefined;
  if (prefix !== undefined && /\{[^{}]+\}/.test(prefix)) return undefined;
  return new QueueMisconfiguredError(
    "CLUSTER_PREFIX",
    `${what} on Redis Cluster needs a hash-tagged prefix so all of the queue's keys share one slot: pass prefix: "{digime}" (the same to the queue and every worker)`,
  );
}
