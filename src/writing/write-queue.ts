/**
 * The write queue: a global concurrency limit (p-queue) fed by per-user lanes.
 * A lane lets only `perUserConcurrency` of its writes into the global queue
 * at a time, which both serialises a user's token refreshes and keeps one
 * busy user from crowding out the rest.
 */
import PQueue from "p-queue";
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../errors.js";

/** Queue settings of a {@link WriteClient}. */
export interface QueueOptions {
  /** Writes in flight at once, across all users. Default 8. */
  concurrency?: number;
  /**
   * Writes of one user in flight at once. Default 1: the SDK refreshes tokens
   * inside a write and refresh tokens are single-use, so more can race.
   */
  perUserConcurrency?: number;
  /** Writes accepted but not yet settled; past it `write` rejects with `QUEUE_FULL`. Default 10,000. */
  maxQueued?: number;
}

/** {@link QueueOptions} with every default filled in. */
export type ResolvedQueueOptions = Required<QueueOptions>;

/** The defaults of {@link QueueOptions}. */
export const DEFAULT_QUEUE_OPTIONS: ResolvedQueueOptions = { concurrency: 8, perUserConcurrency: 1, maxQueued: 10_000 };

interface Job {
  started: boolean;
  cancel(error: Error): void;
}

/** @internal */
export class WriteQueue {
  readonly #global: PQueue;
  readonly #lanes = new Map<string, PQueue>();
  readonly #options: ResolvedQueueOptions;
  /** Jobs accepted and not yet started, so close({ drain: false }) can reject them. */
  readonly #waiting = new Set<Job>();
  #accepted = 0;
  #settled = 0;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  readonly #onIdle: (settled: number) => void;

  constructor(options: ResolvedQueueOptions, onIdle: (settled: number) => void) {
    this.#options = options;
    this.#global = new PQueue({ concurrency: options.concurrency });
    this.#onIdle = onIdle;
  }

  /** Writes accepted and not yet settled. */
  get size(): number {
    return this.#accepted - this.#settled;
  }

  /** Writes currently calling the SDK or waiting between attempts. */
  get running(): number {
    return this.#global.pending;
  }

  /**
   * Enqueue `task` for `userId`. Rejects at once with `QUEUE_FULL` or
   * `CLIENT_CLOSED`; with `WRITE_ABORTED` if `signal` aborts before the task starts.
   */
  add<T>(
    userId: string,
    priority: number,
    signal: AbortSignal | undefined,
    task: () => Promise<T>,
    onAccepted?: () => void,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new ClientClosedError());
    if (this.size >= this.#options.maxQueued) return Promise.reject(new QueueFullError(this.#options.maxQueued));
    if (signal?.aborted) return Promise.reject(new WriteAbortedError(signal.reason));
    this.#accepted += 1;
    // Told before scheduling: p-queue may start the task synchronously.
    onAccepted?.();

    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.#waiting.delete(job);
        signal?.removeEventListener("abort", onAbort);
        this.#settled += 1;
        if (this.size === 0) this.#becameIdle();
      };
      const job: Job = {
        started: false,
        cancel: (error) => {
          if (job.started || done) return;
          finish();
          reject(error);
        },
      };
      const onAbort = (): void => job.cancel(new WriteAbortedError(signal?.reason));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(job);

      const lane = this.#lane(userId);
      // The lane holds its slot until the global queue has run the task: that is what bounds a user's parallelism.
      void lane
        .add(() =>
          this.#global.add(
            async () => {
              if (done) return; // cancelled while waiting: skip without touching the SDK
              job.started = true;
              this.#waiting.delete(job);
              try {
                const value = await task();
                finish();
                resolve(value);
              } catch (error) {
                finish();
                reject(error);
              }
            },
            { priority },
          ),
        { priority })
        .finally(() => this.#dropLaneIfIdle(userId, lane));
    });
  }

  #lane(userId: string): PQueue {
    let lane = this.#lanes.get(userId);
    if (lane === undefined) {
      lane = new PQueue({ concurrency: this.#options.perUserConcurrency });
      this.#lanes.set(userId, lane);
    }
    return lane;
  }

  #dropLaneIfIdle(userId: string, lane: PQueue): void {
    if (lane.size === 0 && lane.pending === 0 && this.#lanes.get(userId) === lane) this.#lanes.delete(userId);
  }

  #becameIdle(): void {
    this.#onIdle(this.#settled);
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when nothing is queued or running. */
  onIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuse new writes; optionally reject every write that has not started. */
  close(rejectWaiting: boolean): void {
    this.#closed = true;
    if (!rejectWaiting) return;
    for (const job of [...this.#waiting]) {
      job.cancel(new ClientClosedError("The client closed before this write started (close({ drain: false }))"));
    }
  }
}
