/**
 * The order in which lanes (users) get a delivery worker: highest priority
 * first; within a priority, a user with no write running before a user who
 * already has one (so one user's extra concurrency only takes workers nobody
 * else is waiting for); then first come, first served. Entries carry a
 * version so the queue can requeue a lane by pushing again: older entries
 * are skipped when they come up.
 * @module
 */

/** A first-in, first-out list over an array with a moving head (no shift per take). */
class Fifo<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

interface Bucket<T> {
  /** Users with no write running. */
  readonly idle: Fifo<T>;
  /** Users with a write running, ready to start another. */
  readonly busy: Fifo<T>;
}

/** The ready lanes in the order above, one {@link Fifo} pair per priority. */
export class ReadyList<T> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** The priorities that have a bucket, highest first. Apps use few (most only 0), so a sorted array is cheap. */
  readonly #priorities: number[] = [];

  push(entry: T, priority: number, busy: boolean): void {
    let bucket = this.#buckets.get(priority);
    if (bucket === undefined) {
      bucket = { idle: new Fifo(), busy: new Fifo() };
      this.#buckets.set(priority, bucket);
      let at = 0;
      while (at < this.#priorities.length && this.#priorities[at]! > priority) at += 1;
      this.#priorities.splice(at, 0, priority);
    }
    (busy ? bucket.busy : bucket.idle).push(entry);
  }

  /** The next entry in order, or undefined when empty. */
  take(): T | undefined {
    while (this.#priorities.length > 0) {
      const priority = this.#priorities[0]!;
      const bucket = this.#buckets.get(priority)!;
      const entry = bucket.idle.take() ?? bucket.busy.take();
      if (entry !== undefined) return entry;
      this.#buckets.delete(priority);
      this.#priorities.shift();
    }
    return undefined;
  }
}
