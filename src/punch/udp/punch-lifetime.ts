import type { Logger } from '../../observe/logger.js';

/**
 * What a punch leaves running (timers, background tasks) ends with its outcome: once it has
 * settled, pending timers are cleared and no late callback runs.
 */
export class PunchLifetime {
  readonly #logger: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  #settled = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** The punch has its outcome (a connection or an error). */
  get settled(): boolean {
    return this.#settled;
  }

  /** Runs `callback` at the performance.now() time `time`, unless the punch settles first. */
  at(time: number, callback: () => void): void {
    this.after(time - performance.now(), callback);
  }

  after(ms: number, callback: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#settled) callback();
    }, Math.max(0, ms));
    this.#timers.add(timer);
  }

  /** Logs the failure of work nobody awaits. */
  background(what: string, task: Promise<void>): void {
    task.catch((error: unknown) => {
      // After the outcome, failures of leftover work (a probe cut short by closing) are expected.
      if (this.#settled) this.#logger.debug({ err: error }, `udp punch: ${what} ended`);
      else this.#logger.warn({ err: error }, `udp punch: ${what} failed`);
    });
  }

  /** Ends the punch and clears its timers; false when it had already ended. */
  settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    return true;
  }
}
