/**
 * The door every server operation passes through: it yields once (so
 * concurrent SDK calls interleave as they would over a network) and waits
 * while the sandbox is paused.
 * @module
 */

/**
 * Pause/resume gate for server operations.
 *
 * @example
 * ```ts
 * const gate = new Gate();
 * gate.pause();
 * const call = gate.pass().then(() => "through");
 * gate.resume(); // call resolves now
 * ```
 */
export class Gate {
  #paused = false;
  #waiters: Array<() => void> = [];

  /** Whether new operations are being held. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Hold every operation that reaches the gate from now on. */
  pause(): void {
    this.#paused = true;
  }

  /** Release held operations, in arrival order, and stop holding. */
  resume(): void {
    this.#paused = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const release of waiters) release();
  }

  /**
   * Wait for the way to be open. The yield uses microtasks rather than timers
   * so tests that fake timers (`vi.useFakeTimers()`) do not stall the sandbox.
   */
  async pass(): Promise<void> {
    await Promise.resolve();
    while (this.#paused) {
      await new Promise<void>((release) => this.#waiters.push(release));
    }
  }
}
