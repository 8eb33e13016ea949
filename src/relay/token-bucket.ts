/** A clock in milliseconds; injected so rate logic is testable without sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/**
 * Classic token bucket: `ratePerSecond` tokens refill continuously up to `burst`.
 * `consume` may go into debt (TCP cannot un-read bytes) and says how long to pause;
 * `tryTake` refuses instead (UDP drops the datagram).
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, burst: number, clock: Clock = systemClock) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /** Takes `amount` tokens, possibly into debt; returns the milliseconds until the debt is repaid. */
  consume(amount: number): number {
    this.#refill();
    this.#tokens -= amount;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#ratePerMs);
  }

  tryTake(amount: number): boolean {
    this.#refill();
    if (this.#tokens < amount) return false;
    this.#tokens -= amount;
    return true;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs);
    this.#last = now;
  }
}

/**
 * One token bucket per source address, bounded in count: when full, the oldest source is forgotten
 * (a flood from many addresses costs memory only up to `maxSources`).
 */
export class SourceRateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #ratePerSecond: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #clock: Clock;

  constructor(options: { ratePerSecond: number; burst: number; maxSources: number }, clock: Clock = systemClock) {
    this.#ratePerSecond = options.ratePerSecond;
    this.#burst = options.burst;
    this.#maxSources = options.maxSources;
    this.#clock = clock;
  }

  allow(source: string): boolean {
    let bucket = this.#buckets.get(source);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxSources) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = new TokenBucket(this.#ratePerSecond, this.#burst, this.#clock);
      this.#buckets.set(source, bucket);
    }
    return bucket.tryTake(1);
  }

  get size(): number {
    return this.#buckets.size;
  }
}
