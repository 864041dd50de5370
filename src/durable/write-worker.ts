/**
 * {@link WriteWorker}: the consumer side of durable writes. A BullMQ worker
 * whose processor hands each job to a {@link WriteClient}, so delivery (token
 * keeping, refresh coordination, retries, events) is the client's, unchanged.
 * @module
 */
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { z } from "zod";
import { DigimeWriteError } from "../errors.js";
import type { WriteReceipt } from "../events.js";
import { parseStoreOptions } from "../stores/parse-options.js";
import type { WriteClient } from "../write-client.js";
import type { WriteFileMeta } from "../writing/file-meta.js";
import { encodeError, failedPossiblyDelivered, parseJobData, UPKEEP_JOB, WRITE_JOB, type WriteJobData } from "./job-data.js";
import { FAIR_KEY, RELEASE_SCRIPT } from "./fair-share.js";
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
   * `concurrency` is this times `client.concurrency`.
   */
  jobsPerDeliverySlot: 2,
  /** A running job's lock, ms. */
  lockDurationMs: 30_000,
  /** How often stalled jobs are looked for, ms. */
  stalledIntervalMs: 30_000,
  /** Stalls before a job finally fails. */
  maxStalledCount: 5,
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
  /** BullMQ key prefix, as given to the queue. Default BullMQ's (`bull`). */
  prefix?: string;
  /**
   * Jobs this worker takes from Redis and holds at once, each handed to
   * `client.write`. The client still delivers at most `client.concurrency`
   * at once (and its per-user limit); the jobs beyond that wait in its
   * queue, so a delivery slot that frees up never waits for a Redis round
   * trip to get its next job. A worker that dies runs all the jobs it held
   * again, flagged `possibleDuplicate`. Bounds: 1 to 1000.
   * @defaultValue twice `client.concurrency` (16 with the client's default of 8)
   */
  concurrency?: number;
  /** The payload store the producers use, for payloads not kept inside jobs. */
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
   */
  tokenUpkeep?: TokenUpkeepSchedule;
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
  /** Settled jobs waiting for their release: job key, data without the bytes, user id. */
  readonly #releases: Array<[string, string, string]> = [];
  /** Each running job's checked data, so releasing it needs no second check (BullMQ settles the same Job object). */
  readonly #checked = new WeakMap<Job, WriteJobData>();
  #flushing: Promise<void> | undefined;
  readonly #scheduled: Promise<void>;
  #closing: Promise<void> | undefined;

  /** @throws ValidationError (`INVALID_OPTIONS`) naming each bad field. */
  constructor(options: WriteWorkerOptions) {
    this.#options = parseStoreOptions(optionsSchema, options, "WriteWorker");
    const o = this.#options;
    const clusterProblem = clusterPrefixProblem(o.connection, o.prefix, "A WriteWorker");
    if (clusterProblem !== undefined) throw clusterProblem;
    this.#worker = new Worker(o.queueName, (job) => this.#process(job), {
      connection: o.connection,
      ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
      concurrency: o.concurrency ?? defaultConcurrency(o.client),
      lockDuration: o.lockDurationMs ?? WRITE_WORKER_DEFAULTS.lockDurationMs,
      stalledInterval: o.stalledIntervalMs ?? WRITE_WORKER_DEFAULTS.stalledIntervalMs,
      maxStalledCount: o.maxStalledCount ?? WRITE_WORKER_DEFAULTS.maxStalledCount,
    });
    // Connection trouble is BullMQ's to ride out (it reconnects); jobs stay in Redis meanwhile.
    this.#worker.on("error", () => undefined);
    this.#worker.on("completed", (job) => this.#release(job));
    this.#worker.on("failed", (job) => {
      if (job !== undefined && typeof job.finishedOn === "number") this.#release(job);
    });
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

  async #process(job: Job): Promise<WriteReceipt | unknown> {
    if (job.name === UPKEEP_JOB) return this.#upkeep(job);
    if (job.name !== WRITE_JOB) throw new UnrecoverableError(`Unknown job name ${JSON.stringify(job.name)}`);
    let data: WriteJobData;
    let fileData: WriteFileMeta["fileData"];
    try {
      data = parseJobData(job.data);
      this.#checked.set(job, data);
      fileData = await this.#payload(data);
    } catch (error) {
      throw new UnrecoverableError(encodeError(error));
    }
    // A run before this one that was cut off (its worker died) or that may have stored the file: say so.
    const possibleDuplicate = job.stalledCounter > 0 || failedPossiblyDelivered(job.failedReason);
    try {
      return await this.#options.client.write(data.userId, { fileData, fileName: data.fileName, fileDescriptor: data.fileDescriptor }, { id: data.id, possibleDuplicate });
    } catch (error) {
      const reason = encodeError(error);
      throw worthAnotherRun(error) ? new Error(reason) : new UnrecoverableError(reason);
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

  async #payload(data: WriteJobData): Promise<WriteFileMeta["fileData"]> {
    const { payload } = data;
    if (payload.kind === "inline") return Buffer.from(payload.base64, "base64");
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
      data = this.#checked.get(job) ?? parseJobData(job.data);
    } catch {
      return;
    }
    if (data.payload.kind === "stored") void this.#options.payloadStore?.delete(data.payload.key).catch(() => undefined);
    // Released even when the bytes are gone already: the release also gives the user's quota place back (once).
    this.#releases.push([this.#worker.toKey(job.id!), JSON.stringify({ ...data, payload: { kind: "released" } }), data.userId]);
    this.#flushing ??= new Promise<void>((resolve) => setTimeout(resolve, RELEASE_BATCH_MS)).then(() => this.#flushReleases());
  }

  async #flushReleases(): Promise<void> {
    try {
      while (this.#releases.length > 0) {
        const batch = this.#releases.splice(0, RELEASE_BATCH_SIZE);
        const client = (await this.#worker.getBackend().client) as unknown as { eval(script: string, keys: number, ...args: string[]): Promise<unknown> };
        // Best effort: a payload left behind costs space until the job's retention ends, never a second delivery.
        const args = batch.flatMap(([, json, userId]) => [json, userId]);
        await client.eval(RELEASE_SCRIPT, batch.length + 1, ...batch.map(([key]) => key), this.#worker.toKey(FAIR_KEY), ...args).catch(() => undefined);
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
      // Pausing lets running writes finish on an open connection; then the last payloads are released.
      await this.#worker.pause().catch(() => undefined);
      await this.#flushing;
      await this.#flushReleases();
      await this.#worker.close();
      await this.#scheduler?.close();
    })();
    return this.#closing;
  }

  /** Shows the queue's name only. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `WriteWorker { queueName: ${JSON.stringify(this.#options.queueName)}, closed: ${this.#closing !== undefined} }`;
  }
}
