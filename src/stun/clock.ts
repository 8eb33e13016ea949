import type { Clock as MonotonicClock } from '../util/clock.js';

/**
 * Time as an injected component, so retransmission and rate limiting are tested with a
 * manual clock instead of sleeps: the shared clock plus timers.
 */
export interface Clock extends MonotonicClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Reads its underlying clock once per `resolutionMs` (refreshed by a timer) instead of per call:
 * a clock read costs ~0.3 us on some VMs, too much for a per-packet rate limiter.
 */
export class CoarseClock implements Clock {
  readonly #inner: Clock;
  readonly #resolutionMs: number;
  #now: number;
  #timer: unknown;

  /** @param resolutionMs how stale `now()` may be. @default 10 */
  constructor(inner: Clock = systemClock, resolutionMs = 10) {
    this.#inner = inner;
    this.#resolutionMs = resolutionMs;
    this.#now = inner.now();
    this.#refresh();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    return this.#inner.setTimeout(callback, ms);
  }

  clearTimeout(handle: unknown): void {
    this.#inner.clearTimeout(handle);
  }

  /** Stops the refresh timer. */
  stop(): void {
    this.#inner.clearTimeout(this.#timer);
  }

  #refresh(): void {
    this.#timer = this.#inner.setTimeout(() => {
      this.#now = this.#inner.now();
      this.#refresh();
    }, this.#resolutionMs);
    // a refresh timer alone must not keep the process alive
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }
}

/** A clock that only moves when told to: `advance(ms)` fires due timers in time order. */
export class ManualClock implements Clock {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let dueId: number | undefined;
      let dueAt = Infinity;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= target && timer.at < dueAt) {
          dueId = id;
          dueAt = timer.at;
        }
      }
      if (dueId === undefined) break;
      const timer = this.#timers.get(dueId)!;
      this.#timers.delete(dueId);
      this.#now = dueAt;
      timer.callback();
    }
    this.#now = target;
  }
}
