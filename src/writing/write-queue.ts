/**
 * The write queue: a global concurrency limit (p-queue) fed by per-user lanes.
 * A lane lets only `perUserConcurrency` of its writes into the global queue
 * at a time, which both serialises a user's token refreshes and keeps one
 * busy user from crowding out the rest. A lane is a plain priority list, not
 * a second p-queue: it only orders and counts, and a p-queue task costs
 * several microseconds that every write would pay twice.
 */
import PQueue from "p-queue";
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../errors.js";

/**
 * Queue settings of a {@link WriteClient}.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, queue: { concurrency: 16, maxQueued: 50_000 } });
 * ```
 */
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

/**
 * The defaults of {@link QueueOptions}.
 *
 * @example
 * ```ts
 * const lanes = Math.min(users.length, DEFAULT_QUEUE_OPTIONS.concurrency); // users writing at once
 * ```
 */
export const DEFAULT_QUEUE_OPTIONS: ResolvedQueueOptions = { concurrency: 8, perUserConcurrency: 1, maxQueued: 10_000 };

/**
 * What the queue runs and settles. Plain methods rather than a promise and
 * callbacks, so a queued write costs an object, not a chain of closures.
 */
export interface QueuedWork<T> {
  // None of these may throw: they run inside the queue.
  /** The work was accepted; called before it can start. */
  accepted(): void;
  /** Do the work; runs once, when the user's lane and the global queue have a slot. */
  run(): Promise<T>;
  /** `run` fulfilled. */
  resolve(value: T): void;
  /** `run` rejected, or the work was cancelled before it started. */
  reject(error: unknown): void;
}

/** One accepted write. Plain data: the queue's private methods act on it, so a write costs no closures of its own. */
interface Job {
  readonly userId: string;
  readonly priority: number;
  readonly work: QueuedWork<unknown>;
  readonly signal: AbortSignal | undefined;
  /** Acceptance order, so close({ drain: false }) rejects in the order writes came. */
  readonly seq: number;
  onAbort: (() => void) | undefined;
  started: boolean;
  /** Settled (delivered, failed or cancelled). */
  done: boolean;
}

/** One user's writes that wait for a slot: highest priority first, FIFO within a priority. */
interface Lane {
  running: number;
  /** Live entries are `waiting[head…]`; taken ones before `head` are `undefined` until compaction. */
  waiting: Array<Job | undefined>;
  head: number;
}

/** Put `job` after every waiting job of the same or a higher priority (the order p-queue keeps). */
function insertByPriority(lane: Lane, job: Job): void {
  const { waiting } = lane;
  const last = waiting.length > lane.head ? waiting[waiting.length - 1] : undefined;
  if (last === undefined || last.priority >= job.priority) {
    waiting.push(job);
    return;
  }
  let low = lane.head;
  let high = waiting.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (waiting[mid]!.priority >= job.priority) low = mid + 1;
    else high = mid;
  }
  waiting.splice(low, 0, job);
}

/** @internal */
export class WriteQueue {
  readonly #global: PQueue;
  readonly #lanes = new Map<string, Lane>();
  readonly #options: ResolvedQueueOptions;
  /**
   * Jobs handed to the global queue and not started yet (at most one per lane
   * slot). With the lanes' waiting lists, these are the writes
   * close({ drain: false }) rejects.
   */
  readonly #inGlobal = new Set<Job>();
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
    return new Promise<T>((resolve, reject) => {
      const refused = this.enqueue(userId, priority, signal, { accepted: () => onAccepted?.(), run: task, resolve, reject });
      if (refused !== undefined) reject(refused);
    });
  }

  /**
   * Enqueue `work` for `userId`, or return why not (`QUEUE_FULL`,
   * `CLIENT_CLOSED`, `WRITE_ABORTED` for a signal aborted already) without
   * calling any of its methods. A signal that aborts before the work starts
   * rejects it with `WRITE_ABORTED`.
   */
  enqueue<T>(userId: string, priority: number, signal: AbortSignal | undefined, work: QueuedWork<T>): Error | undefined {
    if (this.#closed) return new ClientClosedError();
    if (this.size >= this.#options.maxQueued) return new QueueFullError(this.#options.maxQueued);
    if (signal?.aborted) return new WriteAbortedError(signal.reason);
    this.#accepted += 1;
    // Told before scheduling: the global queue may start the work synchronously.
    work.accepted();
    const job: Job = {
      userId,
      priority,
      work: work as QueuedWork<unknown>,
      signal,
      seq: this.#accepted,
      onAbort: undefined,
      started: false,
      done: false,
    };
    if (signal !== undefined) {
      job.onAbort = () => this.#cancel(job, new WriteAbortedError(signal.reason));
      signal.addEventListener("abort", job.onAbort, { once: true });
    }

    let lane = this.#lanes.get(userId);
    if (lane === undefined) {
      lane = { running: 0, waiting: [], head: 0 };
      this.#lanes.set(userId, lane);
    }
    // The lane holds its slot until the global queue has run the task: that is what bounds a user's parallelism.
    if (lane.running < this.#options.perUserConcurrency) this.#start(lane, job);
    else insertByPriority(lane, job);
    return undefined;
  }

  #start(lane: Lane, job: Job): void {
    lane.running += 1;
    this.#inGlobal.add(job);
    void this.#global.add(() => this.#run(job), { priority: job.priority });
  }

  /** Runs in the global queue, then frees the lane's slot. `work.resolve` and `work.reject` must not throw. */
  async #run(job: Job): Promise<void> {
    this.#inGlobal.delete(job);
    try {
      // Cancelled while waiting for a global slot: skip without touching the SDK.
      if (job.done) return;
      job.started = true;
      let value: unknown;
      try {
        value = await job.work.run();
      } catch (error) {
        this.#finish(job);
        job.work.reject(error);
        return;
      }
      this.#finish(job);
      job.work.resolve(value);
    } finally {
      this.#release(job.userId);
    }
  }

  #finish(job: Job): void {
    if (job.done) return;
    job.done = true;
    this.#inGlobal.delete(job);
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    this.#settled += 1;
    if (this.size === 0) this.#becameIdle();
  }

  #cancel(job: Job, error: Error): void {
    if (job.started || job.done) return;
    this.#finish(job);
    job.work.reject(error);
  }

  /** A task of the lane finished: let its next waiting jobs in, and forget the lane once it is idle. */
  #release(userId: string): void {
    const lane = this.#lanes.get(userId);
    if (lane === undefined) return;
    lane.running -= 1;
    const { waiting } = lane;
    while (lane.running < this.#options.perUserConcurrency && lane.head < waiting.length) {
      const next = waiting[lane.head]!;
      waiting[lane.head] = undefined;
      lane.head += 1;
      // Cancelled while waiting in the lane: it never enters the global queue.
      if (!next.done) this.#start(lane, next);
    }
    if (lane.head === waiting.length) {
      waiting.length = 0;
      lane.head = 0;
    } else if (lane.head > 1024 && lane.head * 2 > waiting.length) {
      lane.waiting = waiting.slice(lane.head);
      lane.head = 0;
    }
    if (lane.running === 0 && lane.waiting.length === 0) this.#lanes.delete(userId);
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
    const waiting = [...this.#inGlobal];
    for (const lane of this.#lanes.values()) {
      for (let i = lane.head; i < lane.waiting.length; i += 1) {
        const job = lane.waiting[i]!;
        if (!job.done) waiting.push(job);
      }
    }
    waiting.sort((a, b) => a.seq - b.seq);
    for (const job of waiting) {
      this.#cancel(job, new ClientClosedError("The client closed before this write started (close({ drain: false }))"));
    }
  }
}
