/**
 * {@link DurableWriteQueue}: the producer side of durable writes. Validates a
 * write as `client.write` does, keeps it in a BullMQ job in Redis before it
 * resolves, and reports each write's outcome.
 * @module
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { Job, Queue, QueueEvents, type ConnectionOptions } from "../internal/peers/bullmq.js";
import { EventEmitter } from "eventemitter3";
import { z } from "zod";
import { DigimeWriteError, PayloadStoreRequiredError, QueueFullError, QueueUnavailableError, WriteNotFoundError } from "../errors.js";
import type { WriteReceipt } from "../events.js";
import { settledWithin } from "../internal/call-deadlines.js";
import { sanitizeError } from "../internal/redact.js";
import { parseOrThrow } from "../internal/zod-issues.js";
import { parseStoreOptions } from "../stores/parse-options.js";
import { fileMetaSchema, type WriteFileMeta } from "../writing/file-meta.js";
import { userIdSchema } from "../internal/ids.js";
import { asQueueError, clusterPrefixProblem, type RedisErrorWatch, watchRedisErrors } from "./redis-errors.js";
import { CLAIM_TTL_MS, claimKeyOf, FAIR_KEY, parseReservation, PRIORITY_LIMIT, RESERVE_SCRIPT, UNRESERVE_SCRIPT } from "./fair-share.js";
import { PARKED_EVENT, PARKED_KEY, parkedUsersOf, RESUMED_EVENT, RESUMED_KEY } from "./parking.js";
import { decodeError, decodeReceipt, jobIdOf, WRITE_JOB, writeRefOf, type JobPayload, type WriteJobData } from "./job-data.js";
import type { PayloadStore } from "./payload-store.js";

/**
 * Defaults of {@link DurableWriteQueueOptions}.
 *
 * @example
 * ```ts
 * console.log(DURABLE_QUEUE_DEFAULTS.maxInlineBytes); // 262144
 * ```
 */
export const DURABLE_QUEUE_DEFAULTS = Object.freeze({
  /** Largest payload kept inside a job: 256 KiB. */
  maxInlineBytes: 256 * 1024,
  /** Runs of a write before it finally fails. */
  attempts: 5,
  /** Wait before the second run, ms, doubling after. */
  outageBackoffMs: 60_000,
  /** How long a settled write is kept: one day. */
  keepSettledMs: 24 * 60 * 60 * 1000,
  /** How long enqueue waits for Redis, ms. */
  enqueueTimeoutMs: 10_000,
  /** Writes of one user queued and not settled. */
  maxQueuedPerUser: 10_000,
  /** Writes queued and not settled, all users. */
  maxQueued: 1_000_000,
});

/**
 * How long a call waits for a connection being made (or made again) before
 * it says `QUEUE_UNAVAILABLE`: under a second, so a Redis that is down is
 * reported within one.
 */
const CONNECT_WAIT_MS = 900;
/** Longest pause between reconnection attempts of a connection this queue makes, so a Redis that is back is used within the wait above. */
const RECONNECT_MAX_MS = 500;

/**
 * Options of {@link DurableWriteQueue}.
 *
 * @example
 * ```ts
 * const options: DurableWriteQueueOptions = { connection: { host: "127.0.0.1", port: 6379 }, queueName: "digime-writes" };
 * ```
 */
export interface DurableWriteQueueOptions {
  /**
   * BullMQ's Redis connection: ioredis options or an ioredis instance. When
   * options are given, the queue's connection fails commands at once while
   * Redis is unreachable (`enableOfflineQueue: false`), so `enqueue` rejects
   * instead of waiting.
   */
  connection: ConnectionOptions;
  /** The BullMQ queue's name; producers and workers of one pipeline use the same. */
  queueName: string;
  /**
   * BullMQ key prefix. Default BullMQ's (`bull`).
   * @defaultValue `"bull"` (BullMQ's)
   */
  prefix?: string;
  /**
   * Largest `fileData` (Buffer or Uint8Array) kept inside the job, in bytes;
   * larger payloads need `payloadStore`. Bounds: 0 to 64 MiB.
   * @defaultValue 262144 (256 KiB)
   */
  maxInlineBytes?: number;
  /**
   * Where payloads larger than `maxInlineBytes`, and streams, are kept. Without it they are refused with `PAYLOAD_STORE_REQUIRED`.
   * @defaultValue none: larger payloads and streams are refused
   */
  payloadStore?: PayloadStore;
  /**
   * Runs of a write before it finally fails (BullMQ `attempts`). A run ends
   * in failure only after the client's own retries gave up on a transient
   * fault; a process that dies mid-run does not use one up. Bounds: 1 to 100.
   * @defaultValue 5
   */
  attempts?: number;
  /**
   * Wait before the second run, doubling for each later one (BullMQ
   * exponential backoff): time for an outage to pass. Bounds: 0 to 1 day.
   * @defaultValue 60000
   */
  outageBackoffMs?: number;
  /**
   * How long a delivered or failed write is kept (its receipt or error for
   * `result`, and its id for idempotent `enqueue`). Bounds: 1 s to 365 days.
   * @defaultValue 86400000 (1 day)
   */
  keepSettledMs?: number;
  /**
   * How long `enqueue` waits for Redis to confirm the job before it rejects
   * with `QUEUE_UNAVAILABLE`. Bounds: 1 ms to 10 minutes.
   * @defaultValue 10000
   */
  enqueueTimeoutMs?: number;
  /**
   * Writes of one user enqueued and not yet settled (waiting, running,
   * retrying or parked); one more is refused with `QUEUE_FULL`
   * (`reason: "per-user"`, naming the user). Bounds: 1 to 10,000,000.
   * @defaultValue 10000
   */
  maxQueuedPerUser?: number;
  /**
   * Writes of all users enqueued and not yet settled; one more is refused with
   * `QUEUE_FULL` (`reason: "total"`). Bounds: 1 to 100,000,000.
   * @defaultValue 1000000
   */
  maxQueued?: number;
}

const optionsSchema = z
  .object({
    connection: z.custom<ConnectionOptions>((value) => typeof value === "object" && value !== null, "must be ioredis options or an ioredis instance"),
    queueName: z.string().min(1, "must not be empty").max(200).regex(/^[^:]*$/, "must not contain ':'"),
    prefix: z.string().min(1).max(100).optional(),
    maxInlineBytes: z.number().int().min(0).max(64 * 1024 * 1024).optional(),
    payloadStore: z
      .custom<PayloadStore>((value) => {
        const store = value as Partial<PayloadStore> | null;
        return typeof store === "object" && store !== null && typeof store.put === "function" && typeof store.open === "function" && typeof store.delete === "function";
      }, "must have put, open and delete methods")
      .optional(),
    attempts: z.number().int().min(1).max(100).optional(),
    outageBackoffMs: z.number().int().min(0).max(86_400_000).optional(),
    keepSettledMs: z.number().int().min(1_000).max(365 * 86_400_000).optional(),
    enqueueTimeoutMs: z.number().int().min(1).max(600_000).optional(),
    maxQueuedPerUser: z.number().int().min(1).max(10_000_000).optional(),
    maxQueued: z.number().int().min(1).max(100_000_000).optional(),
  })
  .strict();

/**
 * Options of {@link DurableWriteQueue.enqueue}.
 *
 * @example
 * ```ts
 * await queue.enqueue("alice", file, { id: `order-${order.id}` } satisfies EnqueueOptions);
 * ```
 */
export interface EnqueueOptions {
  /**
   * The write's id and idempotency key (1–256 characters): enqueueing the
   * same id again returns the existing write and never delivers twice on
   * purpose. Default: a random UUID.
   * @defaultValue a random UUID
   */
  id?: string;
}

const enqueueOptionsSchema = z.object({ id: z.string().min(1, "must not be empty").max(256, "must be at most 256 characters").optional() }).strict().optional();

/**
 * What {@link DurableWriteQueue.enqueue} resolves with.
 *
 * @example
 * ```ts
 * const { id, existing }: EnqueueResult = await queue.enqueue("alice", file, { id: "order-1" });
 * ```
 */
export interface EnqueueResult {
  /** The write's id, for `result(userId, id)` and the events. */
  readonly id: string;
  /** `true` when a write with this id already existed and was returned instead of a new one. */
  readonly existing: boolean;
}

/** `delivered`: digi.me accepted a durable write.
 *
 * @example
 * ```ts
 * queue.on("delivered", ({ id, receipt }) => log.info({ id, possibleDuplicate: receipt.possibleDuplicate }));
 * ```
 */
export interface DurableDeliveredEvent {
  /** The write's id. */
  id: string;
  /** The write's user. */
  userId: string;
  /** Its receipt, as `result(userId, id)` resolves. */
  receipt: WriteReceipt;
}

/** `failed`: a durable write finally failed (no more runs).
 *
 * @example
 * ```ts
 * queue.on("failed", ({ id, error }) => log.error({ id, code: error.code }, "write failed"));
 * ```
 */
export interface DurableFailedEvent {
  /** The write's id. */
  id: string;
  /** The write's user. */
  userId: string;
  /** The typed error `result(userId, id)` rejects with. */
  error: DigimeWriteError;
}

/** `retrying`: a durable write will run again: its run failed after the client's retries, or its worker died (`stalled`).
 *
 * @example
 * ```ts
 * queue.on("retrying", ({ id, reason, delayMs }) => log.warn({ id, reason, delayMs }, "write will run again"));
 * ```
 */
export interface DurableRetryingEvent {
  /** The write's id. */
  id: string;
  /** The write's user. */
  userId: string;
  /** `run-failed`: the run gave up on a transient fault; `stalled`: the worker running it stopped (crash, kill). */
  reason: "run-failed" | "stalled";
  /** Wait before the next run, ms (`run-failed` only). */
  delayMs: number | undefined;
}

/** `parked`: a write's delivery needs the user's new consent; it is kept (not failed) until they authorize again or its time is up.
 *
 * @example
 * ```ts
 * queue.on("parked", ({ userId, until }) => notifyUser(userId, "Please reconnect digi.me", new Date(until)));
 * ```
 */
export interface DurableParkedEvent {
  /** The write's id. */
  id: string;
  /** The user who must authorize again. */
  userId: string;
  /** When it fails with `REAUTHORIZATION_REQUIRED` unless the user authorized again, epoch ms. */
  until: number;
}

/**
 * A user whose durable writes are parked, waiting for them to authorize
 * again (see {@link DurableWriteQueue.parkedUsers}).
 *
 * @example
 * ```ts
 * const [first]: ParkedUser[] = await queue.parkedUsers();
 * if (first) await email(first.userId, `${first.count} updates wait since ${new Date(first.oldestParkedAt).toISOString()}`);
 * ```
 */
export interface ParkedUser {
  /** The user who must consent again. */
  readonly userId: string;
  /** Their parked writes. */
  readonly count: number;
  /** When the oldest of them was parked, epoch ms. */
  readonly oldestParkedAt: number;
  /** When the first of them fails unless the user consents again, epoch ms. */
  readonly firstExpiresAt: number;
}
/** `resumed`: a parked write runs again, the user having authorized again.
 *
 * @example
 * ```ts
 * queue.on("resumed", ({ id, userId }) => log.info({ id, userId }, "parked write resumed"));
 * ```
 */
export interface DurableResumedEvent {
  /** The write's id. */
  id: string;
  /** Its user. */
  userId: string;
}

/**
 * The typed events of a {@link DurableWriteQueue}, from every worker of the queue.
 *
 * @example
 * ```ts
 * const onFailed = (...[event]: DurableWriteEvents["failed"]) => alert(event.id);
 * ```
 */
export interface DurableWriteEvents {
  /** A write was delivered. */
  delivered: [DurableDeliveredEvent];
  /** A write finally failed. */
  failed: [DurableFailedEvent];
  /** A write will run again. */
  retrying: [DurableRetryingEvent];
  /** A write waits for its user's new consent. */
  parked: [DurableParkedEvent];
  /** A parked write runs again. */
  resumed: [DurableResumedEvent];
}

/** ioredis options get a connection that fails at once while Redis is down; an instance is used as given. */
function producerConnection(connection: ConnectionOptions): ConnectionOptions {
  const candidate = connection as { connect?: unknown; duplicate?: unknown };
  if (typeof candidate.connect === "function" || typeof candidate.duplicate === "function") return connection;
  const options = connection as { retryStrategy?: unknown };
  const retryStrategy = options.retryStrategy ?? ((times: number) => Math.min(50 * times, RECONNECT_MAX_MS));
  return { ...(connection as object), enableOfflineQueue: false, retryStrategy } as ConnectionOptions;
}

/** The producer's ioredis client, as far as this queue watches it. */
interface WatchedClient {
  status?: string;
  on(event: "close", listener: () => void): unknown;
  once(event: "ready", listener: () => void): unknown;
  eval(script: string, keys: number, ...args: string[]): Promise<unknown>;
  del(key: string): Promise<number>;
  disconnect(): void;
}

/**
 * The calls waiting on one connection, each told when it closes: one
 * `close` listener for all of them. (A listener per call went past Node's
 * bound of listeners per event, a MaxListenersExceededWarning, with more than
 * a dozen enqueues at once.)
 */
class ConnectionWatch {
  readonly client: WatchedClient;
  readonly #waiting = new Set<() => void>();
  /** Resolves at the connection's next `ready`: one listener for every call waiting for it. */
  #ready: Promise<void> | undefined;

  constructor(client: WatchedClient) {
    this.client = client;
    client.on("close", () => {
      const waiting = [...this.#waiting];
      this.#waiting.clear();
      for (const lost of waiting) lost();
    });
  }

  add(lost: () => void): void {
    this.#waiting.add(lost);
  }

  delete(lost: () => void): void {
    this.#waiting.delete(lost);
  }

  nextReady(): Promise<void> {
    this.#ready ??= new Promise<void>((resolve) =>
      this.client.once("ready", () => {
        this.#ready = undefined;
        resolve();
      }),
    );
    return this.#ready;
  }
}

/**
 * Settles `promise` within `ms`, else rejects with `QUEUE_UNAVAILABLE`; so
 * does a connection that is not ready or is lost while the call waits (the
 * command would only be resent after a reconnection, long after the caller
 * should have heard). A reply no retry cures (`CROSSSLOT`, `WRONGTYPE`,
 * auth…) rejects with `QUEUE_MISCONFIGURED` instead.
 */
async function within<T>(promise: Promise<T>, ms: number, operation: string, watch?: RedisErrorWatch, connection?: ConnectionWatch): Promise<T> {
  const fail = (reason: string) => asQueueError(new Error(reason), operation, watch);
  const lost = new AbortController();
  const onClose = () => lost.abort(fail("the connection to Redis was lost"));
  if (connection !== undefined) {
    const { status } = connection.client;
    if (status !== undefined && status !== "ready") lost.abort(fail(`Redis is not connected (${status})`));
    else connection.add(onClose);
  }
  let outcome: PromiseSettledResult<T> | undefined;
  try {
    outcome = await settledWithin(promise, ms, lost.signal);
  } finally {
    connection?.delete(onClose);
  }
  if (outcome === undefined) throw fail(`no answer from Redis within ${ms} ms`);
  if (outcome.status === "fulfilled") return outcome.value;
  if (outcome.reason instanceof DigimeWriteError) throw outcome.reason;
  throw asQueueError(outcome.reason, operation, watch);
}

/**
 * The producer side of durable writes (needs the optional peer `bullmq`):
 * a write accepted by {@link DurableWriteQueue.enqueue} is in Redis, and a
 * {@link WriteWorker} delivers it even if processes die on the way. Delivery
 * is at least once: a write whose worker died mid-delivery runs again and its
 * receipt says `possibleDuplicate: true`.
 *
 * @example
 * ```ts
 * import { DurableWriteQueue } from "digime-write-pipeline/bullmq";
 * const queue = new DurableWriteQueue({ connection: { host: "127.0.0.1", port: 6379 }, queueName: "digime-writes" });
 * const { id } = await queue.enqueue("alice", { fileData, fileName: "order-1.json", fileDescriptor }, { id: "order-1" });
 * const receipt = await queue.result("alice", id);
 * await queue.close();
 * ```
 */
export class DurableWriteQueue extends EventEmitter<DurableWriteEvents> {
  readonly #queue: Queue;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #maxInlineBytes: number;
  readonly #enqueueTimeoutMs: number;
  readonly #maxQueuedPerUser: number;
  readonly #maxQueued: number;
  readonly #redisErrors: RedisErrorWatch;
  readonly #jobOptions: { attempts: number; backoff: { type: "exponential"; delay: number }; removeOnComplete: { age: number }; removeOnFail: { age: number }; stackTraceLimit: number };
  #events: Promise<QueueEvents> | undefined;
  /** Jobs announced parked whose `delayed` event is still to come (it is not a retry). */
  readonly #parking = new Set<string>();
  /** The producer's connection, once made (BullMQ's client, for the scripts this queue runs beside BullMQ's), and the calls waiting on it. */
  #connection: ConnectionWatch | undefined;
  /** Rejects with the queue's next error (a refused connection shows there first): one listener for every call that waits to connect. */
  #nextError: Promise<never> | undefined;
  #closed = false;

  /** @throws ValidationError (`INVALID_OPTIONS`) naming each bad field. */
  constructor(options: DurableWriteQueueOptions) {
    super();
    this.#options = parseStoreOptions(optionsSchema, options, "DurableWriteQueue");
    const o = this.#options;
    this.#maxInlineBytes = o.maxInlineBytes ?? DURABLE_QUEUE_DEFAULTS.maxInlineBytes;
    this.#enqueueTimeoutMs = o.enqueueTimeoutMs ?? DURABLE_QUEUE_DEFAULTS.enqueueTimeoutMs;
    this.#maxQueuedPerUser = o.maxQueuedPerUser ?? DURABLE_QUEUE_DEFAULTS.maxQueuedPerUser;
    this.#maxQueued = o.maxQueued ?? DURABLE_QUEUE_DEFAULTS.maxQueued;
    const clusterProblem = clusterPrefixProblem(o.connection, o.prefix, "A DurableWriteQueue");
    if (clusterProblem !== undefined) throw clusterProblem;
    const keepSeconds = Math.ceil((o.keepSettledMs ?? DURABLE_QUEUE_DEFAULTS.keepSettledMs) / 1000);
    this.#jobOptions = {
      attempts: o.attempts ?? DURABLE_QUEUE_DEFAULTS.attempts,
      backoff: { type: "exponential", delay: o.outageBackoffMs ?? DURABLE_QUEUE_DEFAULTS.outageBackoffMs },
      removeOnComplete: { age: keepSeconds },
      removeOnFail: { age: keepSeconds },
      stackTraceLimit: 0,
    };
    this.#queue = new Queue(o.queueName, { connection: producerConnection(o.connection), ...(o.prefix === undefined ? {} : { prefix: o.prefix }) });
    // BullMQ reports connection errors here; enqueue reports them to its caller (QUEUE_UNAVAILABLE, or
    // QUEUE_MISCONFIGURED for refused credentials, which show only here).
    this.#redisErrors = watchRedisErrors(this.#queue);
  }

  /** The BullMQ queue's name. */
  get queueName(): string {
    return this.#options.queueName;
  }

  /**
   * Accept a write: validated as `client.write` validates it, then kept in
   * Redis (payload inline, or in the payload store) before this resolves.
   * The same id again returns the existing write.
   *
   * @example
   * ```ts
   * const { id } = await queue.enqueue("alice", { fileData: Buffer.from(json), fileName: "order-1.json", fileDescriptor }, { id: "order-1" });
   * ```
   * @throws ValidationError (`INVALID_ARGUMENT`) naming the bad field; PayloadStoreRequiredError when the payload
   *   needs a payload store; QueueFullError past `maxQueuedPerUser` or `maxQueued`; QueueMisconfiguredError for a Redis
   *   reply no retry cures; QueueUnavailableError when
   *   Redis did not confirm (enqueue again with the same id: it is never delivered twice on purpose).
   */
  async enqueue(userId: string, fileMeta: WriteFileMeta, options?: EnqueueOptions): Promise<EnqueueResult> {
    if (this.#closed) throw new QueueUnavailableError("the DurableWriteQueue is closed");
    const user = parseOrThrow(userIdSchema, userId, "INVALID_ARGUMENT", "userId");
    const meta = parseOrThrow(fileMetaSchema, fileMeta, "INVALID_ARGUMENT", "fileMeta");
    const id = parseOrThrow(enqueueOptionsSchema, options, "INVALID_ARGUMENT", "options")?.id ?? randomUUID();
    const jobId = jobIdOf(user, id);
    const { fileData } = meta;
    const streamed = fileData instanceof Readable || typeof fileData === "function";
    const size = streamed ? undefined : (fileData as Uint8Array).byteLength;
    const inline = !streamed && size! <= this.#maxInlineBytes;
    const store = this.#options.payloadStore;
    if (!inline && store === undefined) throw new PayloadStoreRequiredError(streamed ? "stream" : "too-large", size, this.#maxInlineBytes);

    const redis = await this.#connected();
    const jobKey = this.#queue.toKey(jobId);
    const claimKey = claimKeyOf(jobKey);
    const fairKey = this.#queue.toKey(FAIR_KEY);
    // One atomic step decides: the id (this user's job exists: return it), the quotas, and the priority.
    const reservation = parseReservation(
      await this.#call(
        redis.eval(RESERVE_SCRIPT, 4, jobKey, claimKey, fairKey, this.#queue.keys.prioritized!, user, String(this.#maxQueuedPerUser), String(this.#maxQueued), String(CLAIM_TTL_MS), String(PRIORITY_LIMIT)),
        "reserving the write",
      ),
    );
    if (reservation.kind === "existing") return Object.freeze({ id, existing: true });
    if (reservation.kind === "user-full") throw new QueueFullError(this.#maxQueuedPerUser, "per-user", user);
    if (reservation.kind === "full") throw new QueueFullError(this.#maxQueued, "total");

    let payload: JobPayload;
    try {
      if (inline) {
        const bytes = fileData as Uint8Array;
        payload = { kind: "inline", base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
      } else {
        const key = `${Buffer.from(id).toString("base64url").slice(0, 120)}_${randomUUID().replaceAll("-", "")}`;
        const data = typeof fileData === "function" ? fileData() : (fileData as Uint8Array | Readable);
        await store!.put(key, data);
        payload = { kind: "stored", key };
      }
    } catch (error) {
      // No job will be added: give the place back (best effort; the claim expires anyway).
      await redis.eval(UNRESERVE_SCRIPT, 3, jobKey, claimKey, fairKey, user).catch(() => undefined);
      throw error;
    }
    const data: WriteJobData = { v: 1, id, userId: user, fileName: meta.fileName, fileDescriptor: meta.fileDescriptor, payload };
    // BullMQ adds the job only if its id is new: a concurrent enqueue of the same id (same user) adds one job.
    try {
      await this.#call(this.#queue.add(WRITE_JOB, data, { ...this.#jobOptions, jobId, priority: reservation.priority }), "adding the job");
    } catch (error) {
      // Give the quota place back unless the job landed after all (best effort: Redis may be away).
      void redis.eval(UNRESERVE_SCRIPT, 3, jobKey, claimKey, fairKey, user).catch(() => undefined);
      throw error;
    }
    void redis.del(claimKey).catch(() => undefined);
    return Object.freeze({ id, existing: reservation.kind === "claimed" });
  }

  /** A Redis call of this queue, within the timeout and with its failure typed. */
  #call<T>(promise: Promise<T>, operation: string): Promise<T> {
    return within(promise, this.#enqueueTimeoutMs, operation, this.#redisErrors, this.#connection);
  }

  /** The queue's next error, shared by every call that waits meanwhile (one listener, not one per call). */
  #refused(): Promise<never> {
    if (this.#nextError === undefined) {
      const next = new Promise<never>((_, reject) =>
        this.#queue.once("error", (error: Error) => {
          this.#nextError = undefined;
          reject(error);
        }),
      );
      next.catch(() => undefined);
      this.#nextError = next;
    }
    return this.#nextError;
  }

  /**
   * Resolves once the producer's connection is up: commands are never queued
   * while Redis is away (they would land later, after `enqueue` said no), so
   * a call made while it reconnects waits for it, within the timeout.
   */
  async #connected(): Promise<WatchedClient> {
    // Connected already, as for every enqueue after the first: nothing to wait for.
    const known = this.#connection?.client;
    if (known !== undefined && (known.status === undefined || known.status === "ready")) return known;
    const limit = Math.min(CONNECT_WAIT_MS, this.#enqueueTimeoutMs);
    // BullMQ's client resolves once connected; a refused connection fails at its first error, else within the wait.
    const client = (await within(Promise.race([this.#queue.getBackend().client, this.#refused()]), limit, "connecting to Redis", this.#redisErrors)) as unknown as WatchedClient;
    if (this.#connection?.client !== client) this.#connection = new ConnectionWatch(client);
    if (client.status === undefined || client.status === "ready") return client;
    // A connection being made, or made again, gets a moment; one that was closed for good fails at once.
    const wait = client.status === "end" || client.status === "close" ? 0 : limit;
    if (wait === 0 || (await settledWithin(this.#connection.nextReady(), wait)) === undefined) throw asQueueError(new Error(`Redis is not connected (${client.status ?? "unknown"})`), "connecting to Redis", this.#redisErrors);
    return client;
  }

  /**
   * Wait for a write's outcome: its receipt once delivered, or the typed error
   * it finally failed with (the class `client.write` would reject with).
   *
   * @example
   * ```ts
   * const receipt = await queue.result("alice", "order-1");
   * if (receipt.possibleDuplicate) log.warn("digi.me may hold order-1 twice");
   * ```
   * @throws WriteNotFoundError for an id this user never enqueued; the write's typed error when it failed; QueueUnavailableError when Redis cannot be read.
   */
  async result(userId: string, id: string): Promise<WriteReceipt> {
    const user = parseOrThrow(userIdSchema, userId, "INVALID_ARGUMENT", "userId");
    const writeId = parseOrThrow(z.string().min(1).max(256), id, "INVALID_ARGUMENT", "id");
    const jobId = jobIdOf(user, writeId);
    const events = await this.#call(this.#queueEvents(), "listening for results");
    const perJob = events as unknown as { on(name: string, listener: (args: { returnvalue: unknown }) => void): unknown; off(name: string, listener: (args: { returnvalue: unknown }) => void): unknown };
    return new Promise<WriteReceipt>((resolve, reject) => {
      const done = (): void => {
        perJob.off(`completed:${jobId}`, onCompleted);
        perJob.off(`failed:${jobId}`, onFailed);
      };
      const onCompleted = ({ returnvalue }: { returnvalue: unknown }): void => {
        done();
        try {
          resolve(decodeReceipt(returnvalue));
        } catch (error) {
          reject(error);
        }
      };
      const onFailed = (): void => {
        done();
        // The event carries the reason only; the job has the runs and the stall count too.
        void this.#settled(writeId, jobId).then((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome!)), reject);
      };
      // Listen first, then look: an outcome between the two is seen by one of them.
      perJob.on(`completed:${jobId}`, onCompleted);
      perJob.on(`failed:${jobId}`, onFailed);
      this.#settled(writeId, jobId).then(
        (outcome) => {
          if (outcome === undefined) return;
          done();
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  /** The outcome of a settled write; `undefined` while it is waiting or running. */
  async #settled(writeId: string, jobId: string): Promise<WriteReceipt | DigimeWriteError | undefined> {
    // The state first: a settled job does not change, so the job read after it is complete.
    const state = await this.#call(this.#queue.getJobState(jobId), "reading the job's state");
    if (state !== "completed" && state !== "failed") return state === "unknown" ? new WriteNotFoundError(writeId) : undefined;
    const job = await this.#call(Job.fromId(this.#queue, jobId), "reading the job");
    if (job === undefined) return new WriteNotFoundError(writeId);
    if (state === "completed") return decodeReceipt(job.returnvalue);
    return decodeError(job.failedReason, job.attemptsStarted, job.stalledCounter > 0);
  }

  /** One QueueEvents per queue, reading from the stream's current end (so nothing after the first `result` is missed). */
  #queueEvents(): Promise<QueueEvents> {
    this.#events ??= (async () => {
      const client = await this.#queue.getBackend().client;
      // The Redis backend's client is ioredis, whose XREVRANGE the backend's interface does not list.
      const streams = client as unknown as { xrevrange(key: string, end: string, start: string, count: "COUNT", n: number): Promise<Array<[string, string[]]>> };
      const last = await streams.xrevrange(this.#queue.keys.events!, "+", "-", "COUNT", 1);
      const events = new QueueEvents(this.#options.queueName, {
        connection: this.#options.connection,
        ...(this.#options.prefix === undefined ? {} : { prefix: this.#options.prefix }),
        lastEventId: last[0]?.[0] ?? "0-0",
      });
      events.on("error", () => undefined);
      events.on("completed", ({ jobId, returnvalue }) => this.#emitDelivered(jobId, returnvalue));
      events.on("failed", ({ jobId }) => this.#emitFailed(jobId));
      events.on("stalled", ({ jobId }) => this.#emitRetrying(jobId, "stalled", undefined));
      events.on("delayed", ({ jobId, delay }) => {
        // A parked job is delayed too: its `parked` event came first and said so.
        if (this.#parking.delete(jobId)) return;
        this.#emitRetrying(jobId, "run-failed", Math.max(0, Number(delay) - Date.now()));
      });
      const custom = events as unknown as { on(name: string, listener: (args: { jobId: string; until?: string }) => void): unknown };
      custom.on(PARKED_EVENT, ({ jobId, until }) => {
        this.#parking.add(jobId);
        this.#emitPlain("parked", jobId, (ref) => ({ ...ref, until: Number(until) }));
      });
      custom.on(RESUMED_EVENT, ({ jobId }) => this.#emitPlain("resumed", jobId, (ref) => ref));
      await events.waitUntilReady();
      return events;
    })();
    this.#events.catch(() => (this.#events = undefined));
    return this.#events;
  }

  #emitDelivered(jobId: string, returnvalue: unknown): void {
    const ref = writeRefOf(jobId);
    if (ref === undefined || this.listenerCount("delivered") === 0) return;
    try {
      this.emit("delivered", { id: ref.id, userId: ref.userId, receipt: decodeReceipt(returnvalue) });
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #emitFailed(jobId: string): void {
    const ref = writeRefOf(jobId);
    if (ref === undefined || this.listenerCount("failed") === 0) return;
    void this.#settled(ref.id, jobId).then((outcome) => {
      if (outcome instanceof DigimeWriteError) this.emit("failed", { id: ref.id, userId: ref.userId, error: outcome });
    }, () => undefined);
  }

  #emitPlain<K extends "parked" | "resumed">(name: K, jobId: string, payload: (ref: { id: string; userId: string }) => DurableWriteEvents[K][0]): void {
    const ref = writeRefOf(jobId);
    if (ref === undefined || this.listenerCount(name) === 0) return;
    try {
      (this.emit as (event: K, arg: DurableWriteEvents[K][0]) => boolean)(name, payload(ref));
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /**
   * The users whose writes are parked, waiting for them to authorize again:
   * how many writes each, the oldest, and when the first fails. Ask these
   * users to reconnect; their writes resume by themselves once they have.
   *
   * @example
   * ```ts
   * for (const { userId, count } of await queue.parkedUsers()) await email(userId, `${count} updates wait for you to reconnect digi.me`);
   * ```
   * @throws QueueUnavailableError when Redis cannot be read.
   */
  async parkedUsers(): Promise<ParkedUser[]> {
    const redis = (await this.#connected()) as unknown as { hgetall(key: string): Promise<Record<string, string>>; smembers(key: string): Promise<string[]> };
    const [entries, resumed] = await this.#call(Promise.all([redis.hgetall(this.#queue.toKey(PARKED_KEY)), redis.smembers(this.#queue.toKey(RESUMED_KEY))]), "reading parked writes");
    return parkedUsersOf(entries, new Set(resumed));
  }

  #emitRetrying(jobId: string, reason: DurableRetryingEvent["reason"], delayMs: number | undefined): void {
    const ref = writeRefOf(jobId);
    if (ref === undefined || this.listenerCount("retrying") === 0) return;
    try {
      this.emit("retrying", { id: ref.id, userId: ref.userId, reason, delayMs });
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /**
   * Start listening for `delivered`, `failed` and `retrying` of every write of
   * the queue (the listener is attached at once; events flow once Redis answers).
   *
   * @example
   * ```ts
   * await queue.listen();
   * queue.on("delivered", ({ id }) => console.log("delivered", id));
   * ```
   */
  async listen(): Promise<void> {
    await this.#call(this.#queueEvents(), "listening for events");
  }

  /**
   * Close the producer's Redis connections. Writes already enqueued stay in
   * Redis for the workers; pending `result` calls are left unsettled.
   *
   * @example
   * ```ts
   * process.on("SIGTERM", () => void queue.close());
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    const events = this.#events;
    this.#events = undefined;
    // Closing over a lost connection cannot say goodbye to Redis (BullMQ's close would wait for it): drop it instead.
    const client = this.#connection?.client;
    const lost = client !== undefined && client.status !== "ready";
    if (lost) client.disconnect();
    const closing = Promise.all([this.#queue.close().catch(() => undefined), events?.then((e) => e.close(), () => undefined).catch(() => undefined)]);
    if (!lost) {
      await closing;
      return;
    }
    await settledWithin(closing, CONNECT_WAIT_MS);
  }

  /** Shows the queue's name only. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `DurableWriteQueue { queueName: ${JSON.stringify(this.#options.queueName)}, closed: ${this.#closed} }`;
  }
}

