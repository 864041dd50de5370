/**
 * The scheduler seam: where a write waits for its turn. The writer asks it to
 * admit a write (bounds, closing, an aborted signal: refused at once, nothing
 * half-queued), awaits the ticket's turn, delivers, and releases the ticket.
 * The scheduler never calls back into the writer, so a write's whole life
 * stays one async function there.
 *
 * The in-process implementation is {@link LaneScheduler} (per-user lanes
 * under a global limit); any other keeps the same contract.
 * @module
 */

/** What the writer tells the scheduler about one write. */
export interface TurnRequest {
  readonly userId: string;
  /** Higher goes first. */
  readonly priority: number;
  /** Aborting it while the write waits rejects the turn with `WRITE_ABORTED` and frees its place. */
  readonly signal?: AbortSignal | undefined;
  /** Payload bytes held in memory until the ticket is released (for a bytes bound). */
  readonly bytes?: number | undefined;
}

/** One admitted write's place in the scheduler. */
export interface Ticket {
  /**
   * `undefined` when the write may start now; otherwise a promise that
   * resolves when it may, or rejects (`WRITE_ABORTED`, `CLIENT_CLOSED`) when it
   * never will. Call once.
   */
  turn(): Promise<void> | undefined;
  /** The write is settled (or will never start): free its slot and its place in the bounds. Idempotent. */
  release(): void;
}

/** Where writes wait for a delivery slot. */
export interface Scheduler {
  /** Writes admitted and not yet released. */
  readonly size: number;
  /** Writes holding a slot. */
  readonly running: number;
  /** Slots across all users. */
  readonly concurrency: number;
  /** Admit a write, or return why not (`QUEUE_FULL`, `CLIENT_CLOSED`, `WRITE_ABORTED`) without keeping anything of it. */
  admit(request: TurnRequest): Ticket | Error;
  /** Resolves when nothing is admitted. */
  onIdle(): Promise<void>;
  /** Admit nothing more; with `rejectWaiting`, reject the turns of writes not yet started, in the order they came. */
  close(rejectWaiting: boolean): void;
}

/**
 * Run `task` in its turn and release the ticket when it settles: the whole
 * life of one scheduled piece of work, for callers that have no more to do
 * around it than the writer has.
 *
 * @example
 * ```ts
 * const receipt = await runInTurn(scheduler, { userId: "alice", priority: 0 }, () => deliver(file));
 * ```
 */
export async function runInTurn<T>(scheduler: Scheduler, request: TurnRequest, task: () => Promise<T>): Promise<T> {
  const ticket = scheduler.admit(request);
  if (ticket instanceof Error) throw ticket;
  try {
    const turn = ticket.turn();
    if (turn !== undefined) await turn;
    return await task();
  } finally {
    ticket.release();
  }
}
