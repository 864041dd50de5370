/**
 * The write queue: per-user lanes under a global concurrency limit.
 *
 * A lane holds one user's waiting writes (highest priority first, then in
 * arrival order) and lets only `perUserConcurrency` of them run at a time,
 * which serialises a user's token refreshes. Lanes with a write they may
 * start wait in a ready list: highest priority first, then users with no
 * write running before those with one, then the lane that has waited
 * longest, so users take turns and one busy user cannot crowd out the
 * rest. p-queue runs up to `concurrency` delivery workers; a worker takes the
 * next write from the ready list, runs it, and takes the next, so a p-queue
 * task (several microseconds of bookkeeping) is paid per worker, not per
 * write. Each write runs in the async context of its `write()` call.
 */
import { AsyncResource } from "node:async_hooks";
import PQueue from "p-queue";
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../errors.js";
import { ReadyList } from "./ready-list.js";

/**
 * Queue settings of a {@link WriteClient}.
 *
 * @example
 * ```ts
 * new WriteClient({ ...options, queue: { concurrency: 16, maxQueued: 50_000 } });
 * ```
 */
export interface QueueOptions {
  /**
   * Writes in flight at once, across all users.
   * @defaultValue 8
   */
  concurrency?: number;
  /**
   * Writes of one user in flight at once. Above 1 is safe: refreshes stay
   * single flight, and a write whose in-SDK refresh lost a race is retried
   * with the winner's token. The SDK refreshes inside a write only when
   * digi.me revokes an access token early; without proactive refresh it does
   * so at every expiry, where 1 avoids the race altogether.
   * @defaultValue 4 when the library refreshes tokens before they expire (SDKs with `refreshToken`, generation C), else 1
   */
  perUserConcurrency?: number;
  /**
   * Writes accepted but not yet settled; past it `write` rejects with `QUEUE_FULL`.
   * @defaultValue 10_000
   */
  maxQueued?: number;
  /**
   * Writes of one user accepted but not yet settled; past it that user's
   * `write` rejects with `QUEUE_FULL` (`reason: "per-user"`), so one user
   * cannot fill the queue for everyone. At least 1.
   * @defaultValue 1_000
   */
  maxQueuedPerUser?: number;
  /**
   * Bytes of in-memory payloads (Buffer, Uint8Array) accepted but not yet
   * settled; past it `write` rejects with `QUEUE_FULL` (`reason: "bytes"`).
   * Streams count 0: they are read when sent. A single write larger than the
   * budget is still accepted into an otherwise byte-free queue.
   * @defaultValue 268_435_456 (256 MiB)
   */
  maxQueuedBytes?: number;
}

/** {@link QueueOptions} with every default filled in. */
export type ResolvedQueueOptions = Required<QueueOptions>;

/**
 * The defaults of {@link QueueOptions}. Frozen. `perUserConcurrency` is the
 * default where the SDK cannot refresh proactively; where it can, it is 4.
 *
 * @example
 * ```ts
 * const lanes = Math.min(users.length, QUEUE_DEFAULTS.concurrency); // users writing at once
 * ```
 */
export const QUEUE_DEFAULTS: Readonly<ResolvedQueueOptions> = Object.freeze({
  concurrency: 8,
  perUserConcurrency: 1,
  maxQueued: 10_000,
  maxQueuedPerUser: 1_000,
  maxQueuedBytes: 256 * 1024 * 1024,
});

/**
 * The default `perUserConcurrency` where the library refreshes tokens before
 * they expire: one user's backlog then moves at several writes at a time.
 * @internal
 */
export const PROACTIVE_PER_USER_CONCURRENCY = 4;

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
  readonly lane: Lane;
  readonly priority: number;
  readonly work: QueuedWork<unknown>;
  readonly signal: AbortSignal | undefined;
  /** Acceptance order, so close({ drain: false }) rejects in the order writes came. */
  readonly seq: number;
  /** Payload bytes held in memory, counted against `maxQueuedBytes` until settled. */
  readonly bytes: number;
  /** The async context of the `write()` call, which the write runs in. */
  readonly context: AsyncResource;
  onAbort: (() => void) | undefined;
  started: boolean;
  /** Settled (delivered, failed or cancelled). */
  done: boolean;
}

/** One user's writes that wait: highest priority first, FIFO within a priority. */
interface Lane {
  readonly userId: string;
  running: number;
  /** Writes of the user accepted and not settled (`maxQueuedPerUser`); the lane lives at least as long as they do. */
  queued: number;
  /** Live entries are `waiting[head…]`; taken ones before `head` are `undefined` until compaction. */
  waiting: Array<Job | undefined>;
  head: number;
  /** Whether the lane is in the ready list. */
  ready: boolean;
  /** Whether it went in while a write of it was running (behind users with none running). */
  readyBusy: boolean;
  /** Bumped whenever the lane's place in the ready list changes; older entries are stale. */
  version: number;
}

/** A lane's place in the ready list. */
interface ReadyEntry {
  readonly lane: Lane;
  readonly version: number;
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

/** The first waiting job of `lane` that is still wanted (cancelled ones are dropped), or undefined. */
function headOf(lane: Lane): Job | undefined {
  const { waiting } = lane;
  while (lane.head < waiting.length) {
    const job = waiting[lane.head]!;
    if (!job.done) return job;
    waiting[lane.head] = undefined;
    lane.head += 1;
  }
  waiting.length = 0;
  lane.head = 0;
  return undefined;
}

/** Take the head job off `lane` (after {@link headOf} returned it). */
function takeHead(lane: Lane): void {
  const { waiting } = lane;
  waiting[lane.head] = undefined;
  lane.head += 1;
  if (lane.head === waiting.length) {
    waiting.length = 0;
    lane.head = 0;
  } else if (lane.head > 1024 && lane.head * 2 > waiting.length) {
    lane.waiting = waiting.slice(lane.head);
    lane.head = 0;
  }
}


/** @internal */
export class WriteQueue {
  readonly #global: PQueue;
  readonly #lanes = new Map<string, Lane>();
  readonly #options: ResolvedQueueOptions;
  /** Lanes with a write they may start, in the order they get a worker (see {@link ReadyList}); stale entries are skipped. */
  readonly #ready = new ReadyList<ReadyEntry>();
  #workers = 0;
  #active = 0;
  #accepted = 0;
  #settled = 0;
  #closed = false;
  /** Accepted, unsettled writes per user (kept apart from the lanes, which come and go as writes start). */
  #queuedBytes = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #onIdle: (settled: number) => void;

  constructor(options: Omit<ResolvedQueueOptions, "maxQueuedPerUser" | "maxQueuedBytes"> & QueueOptions, onIdle: (settled: number) => void) {
    this.#options = { ...QUEUE_DEFAULTS, ...options };
    this.#global = new PQueue({ concurrency: options.concurrency });
    this.#onIdle = onIdle;
  }

  /** Writes accepted and not yet settled. */
  get size(): number {
    return this.#accepted - this.#settled;
  }

  /** Writes run at once across users (`concurrency`). */
  get concurrency(): number {
    return this.#options.concurrency;
  }

  /** Writes currently calling the SDK or waiting between attempts. */
  get running(): number {
    return this.#active;
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
  enqueue<T>(userId: string, priority: number, signal: AbortSignal | undefined, work: QueuedWork<T>, bytes = 0): Error | undefined {
    if (this.#closed) return new ClientClosedError();
    if (this.size >= this.#options.maxQueued) return new QueueFullError(this.#options.maxQueued);
    let lane = this.#lanes.get(userId);
    if (lane !== undefined && lane.queued >= this.#options.maxQueuedPerUser) return new QueueFullError(this.#options.maxQueuedPerUser, "per-user");
    if (bytes > 0 && this.#queuedBytes > 0 && this.#queuedBytes + bytes > this.#options.maxQueuedBytes) {
      return new QueueFullError(this.#options.maxQueuedBytes, "bytes");
    }
    if (signal?.aborted) return new WriteAbortedError(signal.reason);
    this.#accepted += 1;
    this.#queuedBytes += bytes;
    // Told before scheduling: a worker may start the work synchronously.
    work.accepted();
    // Again: a listener told of the acceptance may have written for this user meanwhile.
    lane = this.#lanes.get(userId);
    if (lane === undefined) {
      lane = { userId, running: 0, queued: 0, waiting: [], head: 0, ready: false, readyBusy: false, version: 0 };
      this.#lanes.set(userId, lane);
    }
    lane.queued += 1;
    const job: Job = {
      lane,
      priority,
      work: work as QueuedWork<unknown>,
      signal,
      seq: this.#accepted,
      bytes,
      context: new AsyncResource("digime-write"),
      onAbort: undefined,
      started: false,
      done: false,
    };
    if (signal !== undefined) {
      job.onAbort = () => this.#cancel(job, new WriteAbortedError(signal.reason));
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    const wasHead = headOf(lane);
    insertByPriority(lane, job);
    if (lane.running < this.#options.perUserConcurrency) {
      // A lane that was not ready needs a worker; a ready one whose new head outranks the old moves up the list.
      if (!lane.ready) this.#markReady(lane, true);
      else if (wasHead !== undefined && job.priority > wasHead.priority) this.#markReady(lane, false);
    }
    return undefined;
  }

  /** Put `lane` in the ready list (again, if its head changed); with `spawn`, start a worker for it when one is free. */
  #markReady(lane: Lane, spawn: boolean): void {
    const head = headOf(lane);
    if (head === undefined) return;
    lane.ready = true;
    lane.readyBusy = lane.running > 0;
    lane.version += 1;
    this.#ready.push({ lane, version: lane.version }, head.priority, lane.readyBusy);
    if (spawn && this.#workers < this.#options.concurrency) {
      this.#workers += 1;
      void this.#global.add(() => this.#work());
    }
  }

  /** The best ready lane, or undefined. */
  #popReady(): Lane | undefined {
    for (;;) {
      const entry = this.#ready.take();
      if (entry === undefined) return undefined;
      const { lane } = entry;
      if (lane.ready && entry.version === lane.version) {
        lane.ready = false;
        return lane;
      }
    }
  }

  /** A delivery worker: runs ready writes, one after another, until none is left. */
  async #work(): Promise<void> {
    try {
      for (let lane = this.#popReady(); lane !== undefined; lane = this.#popReady()) {
        const job = headOf(lane);
        if (job === undefined) {
          // Everything it held was cancelled while it waited.
          this.#forgetIfIdle(lane);
          continue;
        }
        takeHead(lane);
        lane.running += 1;
        // The lane may start more at once: another worker can take its next write.
        if (lane.running < this.#options.perUserConcurrency) this.#markReady(lane, true);
        await job.context.runInAsyncScope(this.#run, this, job);
        lane.running -= 1;
        // This worker goes on; the lane's next write waits its turn behind the lanes ready before it
        // (moved up among users with nothing running, if it waited among the busy ones).
        if (!lane.ready || (lane.readyBusy && lane.running === 0)) this.#markReady(lane, false);
        this.#forgetIfIdle(lane);
      }
    } finally {
      this.#workers -= 1;
    }
  }

  #forgetIfIdle(lane: Lane): void {
    if (lane.running === 0 && !lane.ready && lane.waiting.length === 0 && this.#lanes.get(lane.userId) === lane) this.#lanes.delete(lane.userId);
  }

  /** Run one job and settle it. `work.resolve` and `work.reject` must not throw. */
  async #run(job: Job): Promise<void> {
    job.started = true;
    this.#active += 1;
    let value: unknown;
    try {
      value = await job.work.run();
    } catch (error) {
      this.#active -= 1;
      this.#finish(job);
      job.work.reject(error);
      return;
    }
    this.#active -= 1;
    this.#finish(job);
    job.work.resolve(value);
  }

  #finish(job: Job): void {
    if (job.done) return;
    job.done = true;
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    this.#settled += 1;
    this.#queuedBytes -= job.bytes;
    job.lane.queued -= 1;
    if (this.size === 0) this.#becameIdle();
  }

  #cancel(job: Job, error: Error): void {
    if (job.started || job.done) return;
    this.#finish(job);
    job.work.reject(error);
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
    const waiting: Job[] = [];
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
