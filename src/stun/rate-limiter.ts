import { systemClock, type Clock } from './clock.js';

export interface RateLimiterOptions {
  /** Sustained requests per second allowed per source. @default 200 */
  ratePerSecond?: number;
  /** Burst size (bucket capacity). @default 2 * ratePerSecond */
  burst?: number;
  /** Sources tracked at once; the oldest are forgotten beyond this (bounds memory). @default 65536 */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A token bucket per source key (an IP address). Forgetting a source only makes it more lenient. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions = {}, clock: Clock = systemClock) {
    this.#rate = options.ratePerSecond ?? 200;
    this.#burst = options.burst ?? this.#rate * 2;
    this.#maxSources = options.maxSources ?? 65536;
    this.#clock = clock;
  }

  get trackedSources(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `source`; false when the source is over its rate. */
  allow(source: string): boolean {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxSources) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      bucket = { tokens: this.#burst, updatedAt: now };
      this.#buckets.set(source, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.updatedAt) * this.#rate) / 1000);
      bucket.updatedAt = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
