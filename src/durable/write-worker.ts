/**
 * {@link WriteWorker}: the consumer side of durable writes. A BullMQ worker
 * whose processor hands each job to a {@link WriteClient}, so delivery (token
 * keeping, refresh coordination, retries, events) is the client's, unchanged.
 * @module
 */
import { sleep } from "../internal/sleep.js";
import { DelayedError, Job, Queue, UnrecoverableError, Worker, type ConnectionOptions } from "../internal/peers/bullmq.js";
import { z } from "zod";
import { DigimeWriteError } from "../errors.js";
import type { WriteReceipt, WriteRetryingEvent } from "../events.js";
import { parseStoreOptions } from "../stores/parse-options.js";
import { writeGated, type WriteClient } from "../write-client.js";
import type { WriteFileMeta } from "../writing/file-meta.js";
import { encodeError, failedPossiblyDelivered, parseJobData, UPKEEP_JOB, WRITE_JOB, type JobPayload, type WriteJobData } from "./job-data.js";
import { FAIR_KEY, RELEASE_SCRIPT } from "./fair-share.js";
import { PARK_SCRIPT, PARKED_KEY, parkedUsersOf, parseParkedRecord, RESUME_SCRIPT, RESUMED_KEY, UNPARK_SCRIPT, type ParkedRecord } from "./parking.js";
import type { PayloadStore } from "./payload-store.js";
import { clusterPrefixProblem } from "./redis-errors.js";

/**
 * Defaults of {@link WriteWorkerOptions}.
 *
 * @example
 * ```ts
 * console.log(WRITE_WORKER_DEFAULTS.lockDurationMs); // 30000
 * ```
 */
export const WRITE_WORKER_DEFAULTS = Object.freeze({
  /**
   * Jobs held at once, per write the client delivers at once: the default
   * `concurrency` is this times `client.concurrency`. Two: each delivery
   * slot has its next job at hand (no Redis round trip between deliveries),
   * and no more: a held job starts within about one delivery.
   */
  jobsPerDeliverySlot: 2,
  /**
   * The limiter every worker runs with when `limiter` is not given: high
   * enough never to limit, present so that a 429's fleet-wide pause (BullMQ's
   * rate limit, which only limited workers obey) stops every worker.
   */
  limiter: Object.freeze<WriteLimiter>({ max: 1_000_000, duration: 1_000 }),
  /** A running job's lock, ms. */
  lockDurationMs: 30_000,
  /** How often stalled jobs are looked for, ms. */
  stalledIntervalMs: 30_000,
  /** Stalls before a job finally fails. */
  maxStalledCount: 5,
  /** How long a write that needs the user's new consent stays parked before it fails: 3 days. */
  parkForMs: 3 * 86_400_000,
  /** How often parked users' tokens are looked at, ms. */
  resumeCheckMs: 1_000,
});

/**
 * Options of {@link WriteWorker}.
 *
 * @example
 * ```ts
 * const options: WriteWorkerOptions = { client, connection: { host: "127.0.0.1", port: 6379 }, queueName: "digime-writes", concurrency: 16 };
 * ```
 */
export interface WriteWorkerOptions {
  /** The client that delivers each write (its token store should be shared by every worker: Redis or PostgreSQL). */
  client: WriteClient;
  /** BullMQ's Redis connection: ioredis options or an ioredis instance (`maxRetriesPerRequest: null`). */
  connection: ConnectionOptions;
  /** The BullMQ queue's name, as given to the {@link DurableWriteQueue}. */
  queueName: string;
  /**
   * BullMQ key prefix, as given to the queue. Default BullMQ's (`bull`).
   * @defaultValue `"bull"` (BullMQ's)
   */
  prefix?: string;
  /**
   * Jobs this worker takes from Redis and holds at once. They are written
   * through the client's own scheduler, like any `client.write`: at most
   * `client.concurrency` are delivered at a time, the others wait in the
   * client's per-user lanes, so a slot that frees up never waits for a Redis
   * round trip to get its next job, and a held job whose turn comes during a
   * fleet-wide pause (429) waits it out first. A worker that dies runs all
   * the jobs it held again, flagged `possibleDuplicate`. Bounds: 1 to 1000.
   * @defaultValue twice `client.concurrency` (16 with the client's default of 8)
   */
  concurrency?: number;
  /**
   * The payload store the producers use, for payloads not kept inside jobs.
   * @defaultValue none: only payloads kept inside jobs can be delivered
   */
  payloadStore?: PayloadStore;
  /**
   * How long a worker's hold on a running job lasts without renewal (BullMQ
   * `lockDuration`). A job of a worker that died runs again once its lock
   * lapsed and a stalled check saw it. Bounds: 100 ms to 10 minutes.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /** How often this worker looks for jobs of dead workers (BullMQ `stalledInterval`). Bounds: 100 ms to 10 minutes. @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** Times a job may be found stalled before it finally fails (BullMQ `maxStalledCount`). Bounds: 0 to 100. @defaultValue 5 */
  maxStalledCount?: number;
  /**
   * Token upkeep on a schedule: every `everyMs`, one of the queue's workers
   * (whichever takes the job) runs `client.refreshExpiring({ withinMs })`.
   * The schedule is a BullMQ job scheduler keyed by the contract, so any
   * number of workers declaring it make one schedule. Pick `everyMs` well
   * below `withinMs` so a missed run is caught by the next.
   * @defaultValue none: no scheduled upkeep
   */
  tokenUpkeep?: TokenUpkeepSchedule;
  /**
   * How long a write whose delivery needs the user's new consent
   * (`REAUTHORIZATION_REQUIRED`) stays parked: kept in Redis, `result` still
   * pending, until the user authorizes again (in any process sharing the
   * token store; it then resumes by itself) or this time has passed (it then
   * fails with the original error). `0` fails such writes at once.
   * Bounds: 0 to 30 days.
   * @defaultValue 259200000 (3 days)
   */
  parkForMs?: number;
  /**
   * How often this worker looks in the token store for a new token of each
   * user with parked writes (one store read per such user). Bounds: 100 ms
   * to 10 minutes.
   * @defaultValue 1000
   */
  resumeCheckMs?: number;
  /**
   * A cap on writes started per `duration` ms across every worker of the
   * queue (BullMQ's rate limiter, kept in Redis: the fleet shares it). Give
   * every worker the same. Without it, nothing is capped; a 429 from digi.me
   * still pauses the whole fleet for its `Retry-After`.
   * @defaultValue none: no cap
   */
  limiter?: WriteLimiter;
}

/**
 * A cap on writes started across every worker of a queue (BullMQ's limiter).
 *
 * @example
 * ```ts
 * const limiter: WriteLimiter = { max: 50, duration: 1_000 }; // 50 writes a second, fleet-wide
 * ```
 */
export interface WriteLimiter {
  /** Writes started per `duration` (1 to 1,000,000). */
  max: number;
  /** The window, ms (1 ms to 1 hour). */
  duration: number;
}

/**
 * When {@link WriteWorker} runs token upkeep.
 *
 * @example
 * ```ts
 * const tokenUpkeep: TokenUpkeepSchedule = { everyMs: 3_600_000, withinMs: 7 * 86_400_000 }; // hourly, a week ahead
 * ```
 */
export interface TokenUpkeepSchedule {
  /** Run every this many ms (1 second to 7 days). */
  everyMs: number;
  /** Refresh tokens whose refresh token expires within this many ms (as `refreshExpiring`'s `withinMs`). */
  withinMs: number;
}

/**
 * What a token-upkeep job returns (counts only; the job stays in Redis a while).
 *
 * @example
 * ```ts
 * const { refreshed, expired }: TokenUpkeepResult = job.returnvalue;
 * ```
 */
export interface TokenUpkeepResult {
  /** Tokens found in the window. */
  checked: number;
  /** Refreshed by this run. */
  refreshed: number;
  /** Already refreshed by someone else. */
  refreshedElsewhere: number;
  /** Already expired: those users must consent again. */
  expired: number;
  /** Refreshes that failed. */
  failed: number;
}

const optionsSchema = z
  .object({
    client: z.custom<WriteClient>((value) => typeof (value as { write?: unknown } | null)?.write === "function", "must be a WriteClient"),
    connection: z.custom<ConnectionOptions>((value) => typeof value === "object" && value !== null, "must be ioredis options or an ioredis instance"),
    queueName: z.string().min(1, "must not be empty").max(200).regex(/^[^:]*$/, "must not contain ':'"),
    prefix: z.string().min(1).max(100).optional(),
    concurrency: z.number().int().min(1).max(1000).optional(),
    payloadStore: z
      .custom<PayloadStore>((value) => typeof (value as { open?: unknown } | null)?.open === "function", "must have put, open and delete methods")
      .optional(),
    lockDurationMs: z.number().int().min(100).max(600_000).optional(),
    stalledIntervalMs: z.number().int().min(100).max(600_000).optional(),
    maxStalledCount: z.number().int().min(0).max(100).optional(),
    parkForMs: z.number().int().min(0).max(30 * 86_400_000).optional(),
    resumeCheckMs: z.number().int().min(100).max(600_000).optional(),
    limiter: z.object({ max: z.number().int().min(1).max(1_000_000), duration: z.number().int().min(1).max(3_600_000) }).strict().optional(),
    tokenUpkeep: z
      .object({
        everyMs: z.number().int().min(1_000).max(7 * 86_400_000),
        withinMs: z.number().int().min(0).max(366 * 86_400_000),
      })
      .strict()
      .optional(),
  })
  .strict();

const RELEASE_BATCH_MS = 20;
const RELEASE_BATCH_SIZE = 200;
/** A released job's payload: the bytes are gone. */
const RELEASED: JobPayload = Object.freeze({ kind: "released" });

/** After the last processor returned, how long close() lets BullMQ record outcomes when its pause does not return. */
const CLOSE_GRACE_MS = 1_000;

/** The pub/sub channel (beside the queue's keys) on which workers announce a pause: its end, epoch ms. */
const PAUSE_CHANNEL = "dwp:pause";

/** The subscriber connection's surface used here. */
interface PauseSubscriber {
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** A write this worker is running: how to hand it back on a 429. */
interface RunningWrite {
  controller: AbortController;
  /** Set when digi.me answered 429: the pause it asked for, ms. */
  throttledForMs: number | undefined;
}

function runningKey(userId: string, id: string): string {
  return `${userId}\n${id}`;
}

/** {@link WRITE_WORKER_DEFAULTS}`.jobsPerDeliverySlot` jobs per delivery slot of the client, within the option's bounds. */
function defaultConcurrency(client: WriteClient): number {
  // A stand-in client without the getter (a test double) counts as the client's default of 8.
  const slots = typeof client.concurrency === "number" ? client.concurrency : 8;
  return Math.min(1000, WRITE_WORKER_DEFAULTS.jobsPerDeliverySlot * slots);
}

/** Errors that another run later can cure: the client's transient give-ups, and a client closed under a running job. */
function worthAnotherRun(error: unknown): boolean {
  return error instanceof DigimeWriteError && (error.retryable || error.code === "CLIENT_CLOSED");
}

/**
 * The consumer side of durable writes (needs the optional peer `bullmq`):
 * takes jobs of a {@link DurableWriteQueue} from Redis and delivers each
 * through `client.write`. Several workers, in several processes, share a
 * queue; a job whose worker died runs again elsewhere, flagged
 * `possibleDuplicate`.
 *
 * How retries divide: the client retries transient faults within one run
 * (seconds, its `retry` options); when it gives up, the run fails and BullMQ
 * runs the job again after `outageBackoffMs`, doubling, up to `attempts`
 * runs (an outage). Faults no retry cures (rejected, consent needed) fail the
 * job at once, with no further runs.
 *
 * @example
 * ```ts
 * import { WriteWorker } from "digime-write-pipeline/bullmq";
 * const worker = new WriteWorker({ client, connection: { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null }, queueName: "digime-writes" });
 * process.on("SIGTERM", () => void worker.close().then(() => client.close()));
 * ```
 */
export class WriteWorker {
  readonly #options: z.output<typeof optionsSchema>;
  readonly #worker: Worker;
  readonly #scheduler: Queue | undefined;
  /** Settled jobs waiting for their release: their job keys, and per job its data without the bytes and its user id (the script's KEYS and ARGV as they will be sent). */
  #releaseKeys: string[] = [];
  #releaseArgs: string[] = [];
  #flushing: Promise<void> | undefined;
  readonly #scheduled: Promise<void>;
  #closing: Promise<void> | undefined;
  readonly #parkForMs: number;
  readonly #resumeTimer: ReturnType<typeof setInterval> | undefined;
  #checkingParked = false;
  /** The writes this worker is running, by user and id: a 429 on one of them hands its job back to the queue. */
  readonly #running = new Map<string, RunningWrite>();
  readonly #onRetrying: (event: WriteRetryingEvent) => void;
  /** Until when this worker starts nothing (epoch ms): its view of the fleet's pause (its own 429s and the others'). */
  #pausedUntil = 0;
  /** Jobs whose processor is running, and who waits for none to be. */
  #processing = 0;
  readonly #idleWaiters: Array<() => void> = [];
  /** The connection that hears other workers' pauses (Redis pub/sub), once made. */
  #subscriber: PauseSubscriber | undefined;

  /** @throws ValidationError (`INVALID_OPTIONS`) naming each bad field. */
  constructor(options: WriteWorkerOptions) {
    this.#options = parseStoreOptions(optionsSchema, options, "WriteWorker");
    const o = this.#options;
    const clusterProblem = clusterPrefixProblem(o.connection, o.prefix, "A WriteWorker");
    if (clusterProblem !== undefined) throw clusterProblem;
    this.#parkForMs = o.parkForMs ?? WRITE_WORKER_DEFAULTS.parkForMs;
    this.#worker = new Worker(o.queueName, (job, token) => this.#process(job, token), {
      connection: o.connection,
      ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
      concurrency: o.concurrency ?? defaultConcurrency(o.client),
      lockDuration: o.lockDurationMs ?? WRITE_WORKER_DEFAULTS.lockDurationMs,
      stalledInterval: o.stalledIntervalMs ?? WRITE_WORKER_DEFAULTS.stalledIntervalMs,
      maxStalledCount: o.maxStalledCount ?? WRITE_WORKER_DEFAULTS.maxStalledCount,
      limiter: o.limiter ?? { ...WRITE_WORKER_DEFAULTS.limiter },
    });
    // A 429 on any write of this client pauses the fleet (see #process).
    this.#onRetrying = ({ id, userId, delayMs, error }) => {
      if ((error as { httpStatus?: number }).httpStatus !== 429) return;
      const running = this.#running.get(runningKey(userId, id));
      if (running === undefined) return;
      running.throttledForMs = delayMs;
      running.controller.abort();
    };
    o.client.on("write:retrying", this.#onRetrying);
    void this.#listenForPauses();
    // Connection trouble is BullMQ's to ride out (it reconnects); jobs stay in Redis meanwhile.
    this.#worker.on("error", () => undefined);
    this.#worker.on("completed", (job) => this.#release(job));
    this.#worker.on("failed", (job) => {
      if (job !== undefined && typeof job.finishedOn === "number") this.#release(job);
    });
    if (this.#parkForMs > 0) {
      this.#resumeTimer = setInterval(() => void this.#resumeParked(), o.resumeCheckMs ?? WRITE_WORKER_DEFAULTS.resumeCheckMs);
      this.#resumeTimer.unref();
    }
    const upkeep = o.tokenUpkeep;
    if (upkeep === undefined) {
      this.#scheduler = undefined;
      this.#scheduled = Promise.resolve();
    } else {
      const scheduler = new Queue(o.queueName, { connection: o.connection, ...(o.prefix === undefined ? {} : { prefix: o.prefix }) });
      scheduler.on("error", () => undefined);
      this.#scheduler = scheduler;
      // One scheduler per contract: every worker upserts the same one.
      this.#scheduled = scheduler
        .upsertJobScheduler(`${UPKEEP_JOB}:${o.client.contractId}`, { every: upkeep.everyMs }, {
          name: UPKEEP_JOB,
          data: { withinMs: upkeep.withinMs, contractId: o.client.contractId },
          opts: { removeOnComplete: { count: 20 }, removeOnFail: { count: 20 }, attempts: 1 },
        })
        .then(() => undefined);
      this.#scheduled.catch(() => undefined);
    }
  }

  /** The BullMQ queue's name. */
  get queueName(): string {
    return this.#options.queueName;
  }

  /**
   * Resolves once the worker is connected and taking jobs.
   *
   * @example
   * ```ts
   * await worker.waitUntilReady();
   * ```
   */
  async waitUntilReady(): Promise<void> {
    await Promise.all([this.#worker.waitUntilReady(), this.#scheduled]);
  }

  /** BullMQ's processor: counts the job as running (close() waits for none to be) while it is processed. */
  async #process(job: Job, token: string | undefined): Promise<WriteReceipt | unknown> {
    // Counted here rather than in a wrapper of its own: one async function and promise less per job.
    this.#processing += 1;
    try {
      if (job.name !== WRITE_JOB) return await this.#otherJob(job);
      let data: WriteJobData;
      let fileData: WriteFileMeta["fileData"];
      try {
        data = parseJobData(job.data);
        // An inline payload is decoded at once; only a payload store is waited for.
        fileData = data.payload.kind === "inline" ? Buffer.from(data.payload.base64, "base64") : await this.#storedPayload(data.payload);
      } catch (error) {
        throw new UnrecoverableError(encodeError(error));
      }
      // A run before this one that was cut off (its worker died) or that may have stored the file: say so.
      let possibleDuplicate = job.stalledCounter > 0 || failedPossiblyDelivered(job.failedReason);
      // Only a job that ran before can have been parked: a first run costs no extra Redis call.
      if (job.attemptsStarted > 1 || job.stalledCounter > 0) {
        const parked = await this.#unpark(job.id!);
        if (parked !== undefined) {
          if (!parked.resumed && Date.now() >= parked.record.until) throw new UnrecoverableError(parked.record.reason);
          possibleDuplicate ||= parked.record.possiblyDelivered;
        }
      }
      return await this.#deliver(job, data, fileData, possibleDuplicate, token);
    } finally {
      this.#processing -= 1;
      if (this.#processing === 0 && this.#idleWaiters.length > 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** A job that is not a write: a token-upkeep run, or an unknown name (which fails). */
  #otherJob(job: Job): Promise<TokenUpkeepResult> {
    if (job.name === UPKEEP_JOB) return this.#upkeep(job);
    throw new UnrecoverableError(`Unknown job name ${JSON.stringify(job.name)}`);
  }

  /** Resolves once no job is being processed by this worker. */
  #whenIdle(): Promise<void> {
    if (this.#processing === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Hears the pauses other workers of the queue announce (a 429 they met):
   * jobs this worker holds then wait too. Best effort: without it, BullMQ's
   * rate limit still stops every worker from taking new jobs.
   */
  async #listenForPauses(): Promise<void> {
    try {
      const main = (await this.#worker.getBackend().client) as unknown as { duplicate(): PauseSubscriber };
      if (this.#closing !== undefined) return;
      const subscriber = main.duplicate();
      // Kept at once, so close() can drop it even while it is still connecting.
      this.#subscriber = subscriber;
      subscriber.on("error", () => undefined);
      subscriber.on("message", (_channel: string, message: string) => {
        const until = Number(message);
        if (Number.isFinite(until)) this.#pausedUntil = Math.max(this.#pausedUntil, until);
      });
      await subscriber.subscribe(this.#worker.toKey(PAUSE_CHANNEL));
    } catch {
      // Best effort: BullMQ's rate limit still pauses the fleet's fetching.
    }
  }

  async #deliver(job: Job, data: WriteJobData, fileData: WriteFileMeta["fileData"], possibleDuplicate: boolean, token: string | undefined): Promise<WriteReceipt> {
    const key = runningKey(data.userId, data.id);
    const running: RunningWrite = { controller: new AbortController(), throttledForMs: undefined };
    this.#running.set(key, running);
    try {
      // Held jobs wait for a slot in the client's own scheduler (its per-user lanes and bounds), like any
      // client.write; when its turn comes, a job taken before the fleet paused waits out the pause there.
      return await writeGated(
        this.#options.client,
        data.userId,
        { fileData, fileName: data.fileName, fileDescriptor: data.fileDescriptor },
        { id: data.id, possibleDuplicate, signal: running.controller.signal },
        this.#pauseGate,
      );
    } catch (error) {
      if (running.throttledForMs !== undefined) {
        // digi.me said 429 (too many requests; RFC 6585 §4, with an optional Retry-After): one pause for the whole
        // fleet (BullMQ's rate limit: no worker takes a job until it ends), and this job goes back to the queue with
        // its priority, no run used up. digi.me's SDK documents retries per call only (SDK documents/handling-errors.md,
        // documents/initializing-the-sdk.md `retryOptions`): the fleet-wide pause is this library's.
        const ms = Math.max(1, Math.round(running.throttledForMs));
        const until = Date.now() + ms;
        this.#pausedUntil = Math.max(this.#pausedUntil, until);
        const redis = (await this.#worker.getBackend().client) as unknown as { publish(channel: string, message: string): Promise<number> };
        await Promise.all([this.#worker.rateLimit(ms), redis.publish(this.#worker.toKey(PAUSE_CHANNEL), String(until)).catch(() => undefined)]);
        throw Worker.RateLimitError();
      }
      const reason = encodeError(error);
      if (error instanceof DigimeWriteError && error.code === "REAUTHORIZATION_REQUIRED" && this.#parkForMs > 0 && token !== undefined) {
        await this.#park(job, token, data.userId, reason, (error as { possiblyDelivered?: boolean }).possiblyDelivered === true || possibleDuplicate);
      }
      throw worthAnotherRun(error) ? new Error(reason) : new UnrecoverableError(reason);
    } finally {
      this.#running.delete(key);
    }
  }

  /** Asked when a held job's turn has come: waits out the fleet's pause, if one is on. */
  readonly #pauseGate = (): Promise<void> | undefined => (this.#pausedUntil > Date.now() ? this.#waitOutPause() : undefined);

  async #waitOutPause(): Promise<void> {
    for (let pause = this.#pausedUntil - Date.now(); pause > 0; pause = this.#pausedUntil - Date.now()) await sleep(pause);
  }

  /** The ioredis client of the worker's blocking-free connection (for this library's scripts). */
  async #redis(): Promise<{ eval(script: string, keys: number, ...args: string[]): Promise<unknown>; hgetall(key: string): Promise<Record<string, string>>; smembers(key: string): Promise<string[]> }> {
    return (await this.#worker.getBackend().client) as unknown as { eval(script: string, keys: number, ...args: string[]): Promise<unknown>; hgetall(key: string): Promise<Record<string, string>>; smembers(key: string): Promise<string[]> };
  }

  /**
   * Park a write that needs the user's new consent (digi.me: an expired or
   * refused refresh token means the user must authorize again, SDK
   * documents/create-user/reauthorizing.md; the fresh token they then get is
   * stored by whichever client completes it): record why and until when,
   * then move the job to BullMQ's delayed set until then (it keeps its
   * priority, its quota place and its id). Throws BullMQ's DelayedError, which
   * tells BullMQ the job was moved, not failed.
   */
  async #park(job: Job, token: string, userId: string, reason: string, possiblyDelivered: boolean): Promise<never> {
    const now = Date.now();
    const record: ParkedRecord = { userId, parkedAt: now, until: now + this.#parkForMs, reason, fingerprint: await this.#fingerprint(userId), possiblyDelivered };
    const redis = await this.#redis();
    await redis.eval(PARK_SCRIPT, 3, this.#worker.toKey(PARKED_KEY), this.#worker.toKey(RESUMED_KEY), this.#worker.keys.events!, job.id!, JSON.stringify(record), String(record.until));
    await job.moveToDelayed(record.until, token);
    throw new DelayedError();
  }

  /** Takes a job's park record as its run starts: `undefined` when it was not parked. */
  async #unpark(jobId: string): Promise<{ record: ParkedRecord; resumed: boolean } | undefined> {
    const redis = await this.#redis();
    const [json, resumed] = (await redis.eval(UNPARK_SCRIPT, 2, this.#worker.toKey(PARKED_KEY), this.#worker.toKey(RESUMED_KEY), jobId)) as [string | null, number];
    const record = parseParkedRecord(json);
    return record === undefined ? undefined : { record, resumed: resumed === 1 };
  }

  /** The user's token as the store has it (its expiry times), or its status: a different value later means a new consent. */
  async #fingerprint(userId: string): Promise<string> {
    try {
      const status = await this.#options.client.authorizationStatus(userId);
      return status.status === "authorized" ? `authorized:${status.accessTokenExpiresAt}:${status.refreshTokenExpiresAt}` : status.status;
    } catch {
      return "unknown";
    }
  }

  /**
   * Resume the parked writes of every user who has authorized again: the
   * store holds a token for them other than the one their writes were parked
   * with. Each parked job is marked resumed once (any number of workers may
   * look at once) and promoted out of the delayed set, so it runs at once.
   */
  async #resumeParked(): Promise<void> {
    if (this.#checkingParked || this.#closing !== undefined) return;
    this.#checkingParked = true;
    try {
      const redis = await this.#redis();
      const parkedKey = this.#worker.toKey(PARKED_KEY);
      const entries = await redis.hgetall(parkedKey);
      if (Object.keys(entries).length === 0) return;
      const resumed = new Set(await redis.smembers(this.#worker.toKey(RESUMED_KEY)));
      for (const { userId } of parkedUsersOf(entries, resumed)) {
        const status = await this.#options.client.authorizationStatus(userId).catch(() => undefined);
        if (status?.status !== "authorized") continue;
        const now = await this.#fingerprint(userId);
        for (const [jobId, json] of Object.entries(entries)) {
          const record = parseParkedRecord(json);
          if (record?.userId !== userId || record.fingerprint === now || resumed.has(jobId)) continue;
          const marked = await redis.eval(RESUME_SCRIPT, 3, parkedKey, this.#worker.toKey(RESUMED_KEY), this.#worker.keys.events!, jobId);
          if (marked !== 1) continue;
          // Already running (its time came meanwhile) or gone: nothing to promote; its run sees the mark.
          const job = await Job.fromId(this.#worker, jobId).catch(() => undefined);
          await job?.promote().catch(() => undefined);
        }
      }
    } catch {
      // Redis or the store away: the next check tries again.
    } finally {
      this.#checkingParked = false;
    }
  }

  /** A token-upkeep run, for this worker's contract only (another contract's schedule is another client's). */
  async #upkeep(job: Job): Promise<TokenUpkeepResult> {
    const data = job.data as { withinMs?: unknown; contractId?: unknown };
    const client = this.#options.client;
    if (data.contractId !== client.contractId) throw new UnrecoverableError("A token-upkeep job of another contract: give each contract its own queue");
    try {
      const report = await client.refreshExpiring({ withinMs: Number(data.withinMs) });
      return { checked: report.checked, refreshed: report.refreshed.length, refreshedElsewhere: report.refreshedElsewhere.length, expired: report.expired.length, failed: report.failed.length };
    } catch (error) {
      throw new UnrecoverableError(encodeError(error));
    }
  }

  /** A payload that is not inside the job: opened from the payload store. */
  async #storedPayload(payload: Exclude<JobPayload, { kind: "inline" }>): Promise<WriteFileMeta["fileData"]> {
    if (payload.kind === "released") throw new DigimeWriteError("INVALID_ARGUMENT", "The job's payload was already released", false);
    const store = this.#options.payloadStore;
    if (store === undefined) throw new DigimeWriteError("INVALID_ARGUMENT", "The job's payload is in a payload store: pass the producer's payloadStore to the WriteWorker", false);
    try {
      return await store.open(payload.key);
    } catch {
      throw new DigimeWriteError("INVALID_ARGUMENT", "The job's payload is missing from the payload store", false);
    }
  }

  /**
   * A settled job's bytes are deleted: the stored file, or the copy inside
   * the job. Inline copies are replaced in batches (one script per batch,
   * touching only jobs that still exist): one call per job would cost the
   * queue about half its throughput.
   */
  #release(job: Job): void {
    if (job.name !== WRITE_JOB) return;
    let data: WriteJobData;
    try {
      // Checked again rather than remembered from the run (a WeakMap entry per job): data as the producer
      // wrote it passes the hand check, which costs less than the WeakMap did.
      data = parseJobData(job.data);
    } catch {
      return;
    }
    if (data.payload.kind === "stored") void this.#options.payloadStore?.delete(data.payload.key).catch(() => undefined);
    // Released even when the bytes are gone already: the release also gives the user's quota place back (once).
    // The data without the bytes, built field by field (no spread copy of the job's data per job).
    const released = { v: data.v, id: data.id, userId: data.userId, fileName: data.fileName, fileDescriptor: data.fileDescriptor, payload: RELEASED };
    this.#releaseKeys.push(this.#worker.toKey(job.id!));
    this.#releaseArgs.push(JSON.stringify(released), data.userId);
    this.#flushing ??= sleep(RELEASE_BATCH_MS).then(() => this.#flushReleases());
  }

  async #flushReleases(): Promise<void> {
    try {
      while (this.#releaseKeys.length > 0) {
        // Taken whole while the batch is small enough (no copy), else the first RELEASE_BATCH_SIZE.
        const whole = this.#releaseKeys.length <= RELEASE_BATCH_SIZE;
        const keys = whole ? this.#releaseKeys : this.#releaseKeys.splice(0, RELEASE_BATCH_SIZE);
        const args = whole ? this.#releaseArgs : this.#releaseArgs.splice(0, 2 * RELEASE_BATCH_SIZE);
        if (whole) {
          this.#releaseKeys = [];
          this.#releaseArgs = [];
        }
        keys.push(this.#worker.toKey(FAIR_KEY));
        const client = (await this.#worker.getBackend().client) as unknown as { eval(script: string, keys: number, ...args: string[]): Promise<unknown> };
        // Best effort: a payload left behind costs space until the job's retention ends, never a second delivery.
        await client.eval(RELEASE_SCRIPT, keys.length, ...keys, ...args).catch(() => undefined);
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Stop taking jobs, let the running ones finish, and disconnect. Jobs not
   * started stay queued for other workers (or this one, restarted). The
   * client is yours to close afterwards.
   *
   * @example
   * ```ts
   * await worker.close();
   * await client.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#resumeTimer);
      this.#options.client.off("write:retrying", this.#onRetrying);
      // Pausing lets running writes finish on an open connection; then the last payloads are released.
      // BullMQ's pause also reconnects its blocking connection, which on Redis Cluster can wait for good:
      // once every processor has returned (and a moment for BullMQ to record the last outcomes), go on.
      const paused = this.#worker.pause().catch(() => undefined);
      await Promise.race([paused, this.#whenIdle().then(() => sleep(CLOSE_GRACE_MS))]);
      await this.#flushing;
      await this.#flushReleases();
      await this.#worker.close();
      await this.#scheduler?.close();
      // A subscriber only listens: dropping it loses nothing, and never waits on a connection still being made.
      this.#subscriber?.disconnect();
    })();
    return this.#closing;
  }

  /** Shows the queue's name only. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `WriteWorker { queueName: ${JSON.stringify(this.#options.queueName)}, closed: ${this.#closing !== undefined} }`;
  }
}
