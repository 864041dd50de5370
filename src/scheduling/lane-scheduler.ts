/**
 * The in-process scheduler: per-user lanes under a global concurrency limit.
 *
 * A lane holds one user's waiting writes (highest priority first, then in
 * arrival order). Lanes with a write they may start wait in a ready list:
 * highest priority first, then users with no write running before those with
 * one, then the lane that has waited longest, so users take turns and one
 * busy user cannot crowd out the rest. `perUserConcurrency` is a user's share
 * while others wait: a slot nobody else is ready for goes to a lane past its
 * share (work-conserving, `lendIdleSlots`), unless the lanes are strict, where
 * a user's writes must not overlap beyond it (an SDK that refreshes inside its
 * writes). A slot freed by a settled write goes straight to the next ready
 * write (its turn resolves); there are no worker loops and no callbacks into
 * the writer. A write keeps the async context of its `write()` call because
 * it is one async function that awaits its turn.
 * @module
 */
import { ClientClosedError, QueueFullError, WriteAbortedError } from "../errors.js";
import { ReadyList } from "./ready-list.js";
import type { Scheduler, Ticket, TurnRequest } from "./scheduler.js";

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
   * Whether a user past `perUserConcurrency` may take slots no other user is
   * waiting for, so a lone user's backlog (a history import) uses every free
   * slot; `perUserConcurrency` is then the user's share while others wait, not
   * a cap. Safe wherever the library refreshes before expiry: a refresh is
   * single flight however many writes a user has in flight, and every write
   * is handed a token valid beyond the refresh window (`refreshWindowMs`), so
   * only a call lasting longer than that window can meet an expiry mid-call,
   * with one write in flight or many. Where the SDK refreshes inside every
   * write that meets an expired token (generations A and B, and C before
   * 13.x, without `digimeApi`), lanes stay strict: a user's writes never
   * overlap beyond `perUserConcurrency`, because two refreshes racing inside
   * the SDK spend the same refresh token.
   * @defaultValue true when the library refreshes tokens before they expire (SDKs with `refreshToken`, or `digimeApi`), else false
   */
  lendIdleSlots?: boolean;
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
 * The defaults of {@link QueueOptions}. Frozen. `perUserConcurrency` and
 * `lendIdleSlots` are the defaults where the SDK cannot refresh proactively;
 * where it can, they are 4 and true.
 *
 * @example
 * ```ts
 * const lanes = Math.min(users.length, QUEUE_DEFAULTS.concurrency); // users writing at once
 * ```
 */
export const QUEUE_DEFAULTS: Readonly<ResolvedQueueOptions> = Object.freeze({
  concurrency: 8,
  perUserConcurrency: 1,
  lendIdleSlots: false,
  maxQueued: 10_000,
  maxQueuedPerUser: 1_000,
  maxQueuedBytes: 256 * 1024 * 1024,
});

/**
 * The default `perUserConcurrency` where the library refreshes tokens before
 * they expire: one user's backlog then moves at several writes at a time.
 */
export const PROACTIVE_PER_USER_CONCURRENCY = 4;

/**
 * The queue settings for an SDK that can (`canRefresh`) or cannot refresh
 * tokens before they expire: settings the app left unset in `chosen` follow
 * that ability. Proactive refresh makes overlapping writes of one user safe,
 * so a user gets {@link PROACTIVE_PER_USER_CONCURRENCY} slots as a share and
 * may borrow idle ones; without it a user's writes stay one at a time.
 */
export function queueForRefresh(
  queue: ResolvedQueueOptions,
  chosen: Pick<QueueOptions, "perUserConcurrency" | "lendIdleSlots">,
  canRefresh: boolean,
): ResolvedQueueOptions {
  if (!canRefresh) return queue;
  return {
    ...queue,
    perUserConcurrency: chosen.perUserConcurrency ?? PROACTIVE_PER_USER_CONCURRENCY,
    lendIdleSlots: chosen.lendIdleSlots ?? true,
  };
}

/** One user's writes that wait: highest priority first, FIFO within a priority. */
interface Lane {
  readonly userId: string;
  /** Writes of the user holding a slot. */
  running: number;
  /** Writes of the user admitted and not released (`maxQueuedPerUser`); the lane lives at least as long as they do. */
  queued: number;
  /** Live entries are `waiting[head…]`; taken ones before `head` are `undefined` until compaction. */
  waiting: Array<LaneTicket | undefined>;
  head: number;
  /** Whether the lane is in the ready list. */
  ready: boolean;
  /** Whether it went in while a write of it was running (behind users with none running). */
  readyBusy: boolean;
  /** Bumped whenever the lane's place in the ready list changes; older entries are stale. */
  version: number;
  /** Whether the lane waits among those past their share, for a slot nobody else wants. */
  borrowing: boolean;
}

/** A lane's place in the ready list. */
interface ReadyEntry {
  readonly lane: Lane;
  readonly version: number;
}

const WAITING = 0;
const RUNNING = 1;
const DONE = 2;

/** One admitted write. Plain fields the scheduler acts on; its promise exists only if the write had to wait. */
class LaneTicket implements Ticket {
  readonly scheduler: LaneScheduler;
  readonly lane: Lane;
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  /** Admission order, so close({ drain: false }) rejects in the order writes came. */
  readonly seq: number;
  /** Payload bytes held in memory, counted against `maxQueuedBytes` until released. */
  readonly bytes: number;
  state: typeof WAITING | typeof RUNNING | typeof DONE = WAITING;
  onAbort: (() => void) | undefined = undefined;
  resolve: (() => void) | undefined = undefined;
  reject: ((error: Error) => void) | undefined = undefined;
  /** Why the turn will never come (cancelled before `turn()` was asked). */
  refusal: Error | undefined = undefined;

  constructor(scheduler: LaneScheduler, lane: Lane, priority: number, signal: AbortSignal | undefined, seq: number, bytes: number) {
    this.scheduler = scheduler;
    this.lane = lane;
    this.priority = priority;
    this.signal = signal;
    this.seq = seq;
    this.bytes = bytes;
  }

  turn(): Promise<void> | undefined {
    if (this.state === RUNNING) return undefined;
    if (this.refusal !== undefined) return Promise.reject(this.refusal);
    return new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  release(): void {
    this.scheduler.release(this);
  }
}

/** Put `ticket` after every waiting ticket of the same or a higher priority. */
function insertByPriority(lane: Lane, ticket: LaneTicket): void {
  const { waiting } = lane;
  const last = waiting.length > lane.head ? waiting[waiting.length - 1] : undefined;
  if (last === undefined || last.priority >= ticket.priority) {
    waiting.push(ticket);
    return;
  }
  let low = lane.head;
  let high = waiting.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (waiting[mid]!.priority >= ticket.priority) low = mid + 1;
    else high = mid;
  }
  waiting.splice(low, 0, ticket);
}

/** The first waiting ticket of `lane` that still waits (cancelled ones are dropped), or undefined. */
function headOf(lane: Lane): LaneTicket | undefined {
  const { waiting } = lane;
  while (lane.head < waiting.length) {
    const ticket = waiting[lane.head]!;
    if (ticket.state === WAITING) return ticket;
    waiting[lane.head] = undefined;
    lane.head += 1;
  }
  waiting.length = 0;
  lane.head = 0;
  return undefined;
}

/** Take the head ticket off `lane` (after {@link headOf} returned it). */
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

/**
 * Per-user lanes under a global limit: the {@link Scheduler} a `WriteClient`
 * uses in process.
 */
export class LaneScheduler implements Scheduler {
  readonly #lanes = new Map<string, Lane>();
  readonly #options: ResolvedQueueOptions;
  /** Lanes with a write they may start, in the order they get a slot (see {@link ReadyList}); stale entries are skipped. */
  readonly #ready = new ReadyList<ReadyEntry>();
  /** Lanes past their share with writes waiting, served round robin when a slot would otherwise stay idle. */
  #borrowers: Lane[] = [];
  /** Whether a lane may run past `perUserConcurrency` on slots nobody else is ready for. */
  readonly #workConserving: boolean;
  #running = 0;
  #admitted = 0;
  #released = 0;
  #closed = false;
  #queuedBytes = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #onIdle: (settled: number) => void;

  /** Unset options take {@link QUEUE_DEFAULTS}, so lanes are strict unless `lendIdleSlots` is true. */
  constructor(options: Pick<ResolvedQueueOptions, "concurrency" | "perUserConcurrency" | "maxQueued"> & QueueOptions, onIdle: (settled: number) => void = () => undefined) {
    this.#options = { ...QUEUE_DEFAULTS, ...options };
    this.#onIdle = onIdle;
    this.#workConserving = this.#options.lendIdleSlots;
  }

  get size(): number {
    return this.#admitted - this.#released;
  }

  get concurrency(): number {
    return this.#options.concurrency;
  }

  get running(): number {
    return this.#running;
  }

  admit(request: TurnRequest): Ticket | Error {
    if (this.#closed) return new ClientClosedError();
    if (this.size >= this.#options.maxQueued) return new QueueFullError(this.#options.maxQueued);
    const { userId, priority, signal } = request;
    const bytes = request.bytes ?? 0;
    let lane = this.#lanes.get(userId);
    if (lane !== undefined && lane.queued >= this.#options.maxQueuedPerUser) return new QueueFullError(this.#options.maxQueuedPerUser, "per-user");
    if (bytes > 0 && this.#queuedBytes > 0 && this.#queuedBytes + bytes > this.#options.maxQueuedBytes) {
      return new QueueFullError(this.#options.maxQueuedBytes, "bytes");
    }
    if (signal?.aborted) return new WriteAbortedError(signal.reason);
    this.#admitted += 1;
    this.#queuedBytes += bytes;
    if (lane === undefined) {
      lane = { userId, running: 0, queued: 0, waiting: [], head: 0, ready: false, readyBusy: false, version: 0, borrowing: false };
      this.#lanes.set(userId, lane);
    }
    lane.queued += 1;
    const ticket = new LaneTicket(this, lane, priority, signal, this.#admitted, bytes);
    const wasHead = headOf(lane);
    // A free slot means nobody else waits for one (slots are handed on as they free up):
    // start now, no promise, no wait, within the user's share or on a slot nobody wants.
    if (wasHead === undefined && this.#running < this.#options.concurrency && (lane.running < this.#options.perUserConcurrency || this.#workConserving)) {
      this.#grant(ticket);
      return ticket;
    }
    if (signal !== undefined) {
      ticket.onAbort = () => this.#cancel(ticket, new WriteAbortedError(signal.reason));
      signal.addEventListener("abort", ticket.onAbort, { once: true });
    }
    insertByPriority(lane, ticket);
    if (lane.running < this.#options.perUserConcurrency) {
      // A lane that was not ready needs a slot; a ready one whose new head outranks the old moves up the list.
      if (!lane.ready) this.#markReady(lane);
      else if (wasHead !== undefined && ticket.priority > wasHead.priority) this.#markReady(lane);
      this.#fill();
    } else {
      this.#borrowWhenIdle(lane);
    }
    return ticket;
  }

  /** Give `ticket` a slot; its turn resolves (or `turn()` answers undefined). */
  #grant(ticket: LaneTicket): void {
    ticket.state = RUNNING;
    ticket.lane.running += 1;
    this.#running += 1;
    if (ticket.onAbort !== undefined) {
      // From here on the writer's retry loop watches the signal.
      ticket.signal?.removeEventListener("abort", ticket.onAbort);
      ticket.onAbort = undefined;
    }
    ticket.resolve?.();
  }

  /** Put `lane` in the ready list (again, if its head changed). */
  #markReady(lane: Lane): void {
    const head = headOf(lane);
    if (head === undefined) return;
    lane.ready = true;
    lane.readyBusy = lane.running > 0;
    lane.version += 1;
    this.#ready.push({ lane, version: lane.version }, head.priority, lane.readyBusy);
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

  /** Queue `lane`, past its share, for slots nobody else is ready for (work-conserving lanes only). */
  #borrowWhenIdle(lane: Lane): void {
    if (!this.#workConserving || lane.borrowing) return;
    lane.borrowing = true;
    this.#borrowers.push(lane);
  }

  /** Hand free slots to ready lanes, in the ready list's order; then slots nobody is ready for to lanes past their share. */
  #fill(): void {
    while (this.#running < this.#options.concurrency) {
      const lane = this.#popReady();
      if (lane === undefined) {
        this.#lend();
        return;
      }
      const ticket = headOf(lane);
      if (ticket === undefined) {
        // Everything it held was cancelled while it waited.
        this.#forgetIfIdle(lane);
        continue;
      }
      if (lane.running >= this.#options.perUserConcurrency) {
        // Past its share since it was listed (it borrowed an idle slot meanwhile).
        this.#borrowWhenIdle(lane);
        continue;
      }
      takeHead(lane);
      this.#grant(ticket);
      // The lane may start more at once: it waits for another slot among the users who have one running.
      if (lane.running < this.#options.perUserConcurrency) this.#markReady(lane);
      else this.#borrowWhenIdle(lane);
    }
  }

  /** Slots free and no lane within its share is ready: lanes past their share take turns on them. */
  #lend(): void {
    let passes = this.#borrowers.length;
    while (this.#running < this.#options.concurrency && passes > 0) {
      const lane = this.#borrowers.shift()!;
      passes -= 1;
      lane.borrowing = false;
      const ticket = headOf(lane);
      if (ticket === undefined) {
        this.#forgetIfIdle(lane);
        continue;
      }
      // A lane back within its share is served through the ready list.
      if (lane.running < this.#options.perUserConcurrency) continue;
      takeHead(lane);
      this.#grant(ticket);
      if (headOf(lane) !== undefined) {
        this.#borrowWhenIdle(lane);
        passes += 1;
      }
    }
  }

  /** The ticket's write settled, or it was cancelled: free what it held. Idempotent. */
  release(ticket: LaneTicket): void {
    if (ticket.state === DONE) return;
    const { lane } = ticket;
    if (ticket.state === RUNNING) {
      lane.running -= 1;
      this.#running -= 1;
      // The lane's next write waits its turn behind the lanes ready before it
      // (moved up among users with nothing running, if it waited among the busy ones);
      // a lane still past its share waits for a slot nobody else wants.
      if (lane.running >= this.#options.perUserConcurrency) this.#borrowWhenIdle(lane);
      else if (!lane.ready || (lane.readyBusy && lane.running === 0)) this.#markReady(lane);
    } else if (ticket.onAbort !== undefined) {
      ticket.signal?.removeEventListener("abort", ticket.onAbort);
    }
    ticket.state = DONE;
    this.#released += 1;
    this.#queuedBytes -= ticket.bytes;
    lane.queued -= 1;
    this.#fill();
    this.#forgetIfIdle(lane);
    if (this.size === 0) this.#becameIdle();
  }

  #forgetIfIdle(lane: Lane): void {
    if (lane.running === 0 && lane.queued === 0 && !lane.ready && !lane.borrowing && this.#lanes.get(lane.userId) === lane) this.#lanes.delete(lane.userId);
  }

  /** A waiting ticket that will never start: its turn rejects with `error`. */
  #cancel(ticket: LaneTicket, error: Error): void {
    if (ticket.state !== WAITING) return;
    ticket.refusal = error;
    const reject = ticket.reject;
    this.release(ticket);
    reject?.(error);
  }

  #becameIdle(): void {
    this.#onIdle(this.#released);
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  onIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(rejectWaiting: boolean): void {
    this.#closed = true;
    if (!rejectWaiting) return;
    const waiting: LaneTicket[] = [];
    for (const lane of this.#lanes.values()) {
      for (let i = lane.head; i < lane.waiting.length; i += 1) {
        const ticket = lane.waiting[i];
        if (ticket !== undefined && ticket.state === WAITING) waiting.push(ticket);
      }
    }
    waiting.sort((a, b) => a.seq - b.seq);
    for (const ticket of waiting) {
      this.#cancel(ticket, new ClientClosedError("The client closed before this write started (close({ drain: false }))"));
    }
  }
}
