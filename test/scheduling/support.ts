/** What the scheduling tests share: a gate a test opens by hand, and a task run in its turn as the writer runs one. */
import { runInTurn, type Scheduler } from "../../src/scheduling/scheduler.js";

/** A promise the test resolves when it chooses. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Run `task` in its turn on `scheduler`, as the writer does. */
export const add = <T>(scheduler: Scheduler, userId: string, priority: number, signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> =>
  runInTurn(scheduler, { userId, priority, signal }, task);
