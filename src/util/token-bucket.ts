import type { Clock } from './clock.js';

/**
 * Classic token bucket: `ratePerSecond` tokens refill continuously up to `burst`; it starts full.
 * `consume` may go into debt (TCP cannot un-read bytes) and says how long to pause;
 * `tryTake` refuses instead (UDP drops the datagram, a server drops the request).
 *
 * Every method reads the injected clock unless given `now`: a caller that already read the clock
 * for this event (a packet, a frame) passes it, so a hot path pays one clock read, not two.
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(ratePerSecond: number, burst: number, clock: Clock, now = clock.now()) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Takes `amount` tokens, possibly into debt; returns the milliseconds until the debt is repaid. */
  consume(amount: number, now = this.#clock.now()): number {
    this.#refill(now);
    this.#tokens -= amount;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#ratePerMs);
  }

  /** Takes `amount` tokens when there are that many; false (and nothing taken) otherwise. */
  tryTake(amount = 1, now = this.#clock.now()): boolean {
    this.#refill(now);
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#ratePerMs);
    this.#updatedAt = now;
  }
}

export interface SourceRateLimiterOptions {
  ratePerSecond: number;
  burst: number;
  /** Sources tracked at once; the oldest is forgotten beyond this (bounds memory). */
  maxSources: number;
}

/**
 * One token bucket per source key (an IP address), bounded in count: when full, the oldest source
 * is forgotten, which only makes the limiter more lenient to it. A flood from many addresses costs
 * memory only up to `maxSources`. One clock read per `allow`; an allocation only for a new source.
 */
export class SourceRateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #clock: Clock;

  constructor(options: SourceRateLimiterOptions, clock: Clock) {
    this.#ratePerSecond = options.ratePerSecond;
    this.#burst = options.burst;
    this.#maxSources = options.maxSources;
    this.#clock = clock;
  }

  /** Takes one token for `source`; false when the source is over its rate. */
  allow(source: string): boolean {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxSources) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = new TokenBucket(this.#ratePerSecond, this.#burst, this.#clock, now);
      this.#buckets.set(source, bucket);
    }
    return bucket.tryTake(1, now);
  }

  /** Sources tracked now. */
  get size(): number {
    return this.#buckets.size;
  }
}
