/**
 * Deadlines: the one place calls get a time limit. {@link settledWithin}
 * bounds one call; {@link CallDeadlines} bounds many concurrent calls with one
 * timer.
 * @module
 */

/**
 * A call waiting on the deadline list. Each kind of wait is a small class
 * with its own `expire()`, so a wait costs one object rather than an object
 * and the closures it would hold.
 */
abstract class Entry {
  readonly deadline: number;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;

  constructor(deadline: number) {
    this.deadline = deadline;
  }

  /** The call reached its deadline (it has been unlinked). */
  abstract expire(): void;
}

/** A {@link CallDeadlines.race}: rejects with the timeout error at the deadline. */
class RaceEntry extends Entry {
  readonly #reject: (error: unknown) => void;
  readonly #timeoutError: (label: string) => Error;
  readonly #label: string;

  constructor(deadline: number, reject: (error: unknown) => void, timeoutError: (label: string) => Error, label: string) {
    super(deadline);
    this.#reject = reject;
    this.#timeoutError = timeoutError;
    this.#label = label;
  }

  expire(): void {
    this.#reject(this.#timeoutError(this.#label));
  }
}

/** A {@link CallDeadlines.settle}: `next(outcome)` settles the result, with `undefined` at the deadline. */
class SettleEntry<T, R> extends Entry {
  readonly #next: (outcome: PromiseSettledResult<T> | undefined) => R | PromiseLike<R>;
  #resolve: ((value: R | PromiseLike<R>) => void) | undefined = undefined;
  #reject: ((error: unknown) => void) | undefined = undefined;

  constructor(deadline: number, next: (outcome: PromiseSettledResult<T> | undefined) => R | PromiseLike<R>) {
    super(deadline);
    this.#next = next;
  }

  /** The result's resolving functions (from its executor, which runs at once). */
  bind(resolve: (value: R | PromiseLike<R>) => void, reject: (error: unknown) => void): void {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  expire(): void {
    this.finish(undefined);
  }

  finish(outcome: PromiseSettledResult<T> | undefined): void {
    try {
      this.#resolve!(this.#next(outcome));
    } catch (error) {
      this.#reject!(error);
    }
  }
}

/** Node fires a timer up to a millisecond early by the clock used here. */
const EARLY_MS = 1;

/**
 * Time limits for many concurrent calls with one timer. Every call gets the
 * same limit, so calls reach their deadlines in the order they started: a
 * list in start order and one timer for its oldest entry do what a timer per
 * call would, without arming and clearing a timer on every call (the token
 * keeper reads the store on every write).
 */
export class CallDeadlines {
  readonly #ms: number;
  readonly #timeoutError: (label: string) => Error;
  #head: Entry | undefined;
  #tail: Entry | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopWhenIdle = false;

  /** `timeoutError(label)` is what a call that runs past `ms` rejects with. */
  constructor(ms: number, timeoutError: (label: string) => Error) {
    this.#ms = ms;
    this.#timeoutError = timeoutError;
  }

  /**
   * What `call()` settles with, or a rejection with `timeoutError(label)`
   * once `ms` have passed. A synchronous throw becomes a rejection. A call
   * given up on keeps running; its late answer is ignored.
   */
  run<T>(label: string, call: () => Promise<T>): Promise<T> {
    let answer: Promise<T>;
    try {
      answer = call();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.race(label, answer);
  }

  /** {@link run} for a call already made: what `answer` settles with, or the timeout error once `ms` have passed. */
  race<T>(label: string, answer: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = new RaceEntry(performance.now() + this.#ms, reject, this.#timeoutError, label);
      this.#add(entry);
      Promise.resolve(answer).then(
        (value) => {
          if (this.#remove(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.#remove(entry)) reject(error);
        },
      );
    });
  }

  /**
   * `next(outcome)`, where the outcome is `promise`'s if it settles within
   * `ms`, else `undefined` once they have passed: {@link settledWithin} and
   * its reaction in one, for many concurrent waits of the same length,
   * without a timer or a second promise each. The promise keeps running; a
   * late outcome is ignored. What `next` returns (or throws) settles the
   * result.
   */
  settle<T, R>(promise: Promise<T>, next: (outcome: PromiseSettledResult<T> | undefined) => R | PromiseLike<R>): Promise<R> {
    const entry = new SettleEntry<T, R>(performance.now() + this.#ms, next);
    const result = new Promise<R>((resolve, reject) => entry.bind(resolve, reject));
    this.#add(entry);
    promise.then(
      (value) => {
        if (this.#remove(entry)) entry.finish({ status: "fulfilled", value });
      },
      (reason: unknown) => {
        if (this.#remove(entry)) entry.finish({ status: "rejected", reason });
      },
    );
    return result;
  }

  /** Append `entry` (due `ms` from now), arming the timer if none is. */
  #add(entry: Entry): void {
    if (this.#tail === undefined) this.#head = entry;
    else {
      entry.prev = this.#tail;
      this.#tail.next = entry;
    }
    this.#tail = entry;
    this.#arm();
  }

  /** Unlink `entry`; false when it was gone already (timed out). */
  #remove(entry: Entry): boolean {
    const { prev, next } = entry;
    if (prev === undefined && this.#head !== entry) return false;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    entry.prev = undefined;
    entry.next = undefined;
    // Nothing pending: the timer may stay armed, but must not keep the process alive.
    if (this.#head === undefined) {
      if (this.#stopWhenIdle) this.#clearTimer();
      else this.#timer?.unref();
    }
    return true;
  }

  /**
   * The owner is done: once nothing is pending, drop the timer (which holds
   * on to the owner until it fires). Calls made later still get their limit.
   */
  stopWhenIdle(): void {
    this.#stopWhenIdle = true;
    if (this.#head === undefined) this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#expire(), this.#ms);
    else this.#timer.ref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    let entry = this.#head;
    while (entry !== undefined && entry.deadline - now <= EARLY_MS) {
      this.#remove(entry);
      entry.expire();
      entry = this.#head;
    }
    if (entry !== undefined) this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(entry.deadline - now)));
  }
}

/**
 * `promise`'s outcome if it settles within `ms`, else `undefined`: the call
 * keeps running, and its late answer is ignored (a late rejection is not
 * unhandled).
 *
 * `signal` ends the wait early when it aborts, as an aborted call would: the
 * outcome is then a rejection with `signal.reason`. A call that has settled
 * already wins over a signal aborted already.
 */
export function settledWithin<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<PromiseSettledResult<T> | undefined> {
  return new Promise((resolve) => {
    const settle = (outcome: PromiseSettledResult<T> | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    // One microtask later, as the call's own outcome arrives through `then`: so a call settled already comes first.
    const onAbort = (): void => queueMicrotask(() => settle({ status: "rejected", reason: signal?.reason }));
    promise.then(
      (value) => settle({ status: "fulfilled", value }),
      (reason: unknown) => settle({ status: "rejected", reason }),
    );
    const timer = setTimeout(settle, ms, undefined);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
