import { systemClock, type Clock } from './clock.js';
import { SourceRateLimiter } from '../util/token-bucket.js';

export interface RateLimiterOptions {
  /** Sustained requests per second allowed per source. @default 200 */
  ratePerSecond?: number;
  /** Burst size (bucket capacity). @default 2 * ratePerSecond */
  burst?: number;
  /** Sources tracked at once; the oldest are forgotten beyond this (bounds memory). @default 65536 */
  maxSources?: number;
}

/** The STUN server's per-source limiter: the shared one with the STUN defaults. */
export class RateLimiter extends SourceRateLimiter {
  constructor(options: RateLimiterOptions = {}, clock: Clock = systemClock) {
    const ratePerSecond = options.ratePerSecond ?? 200;
    super({ ratePerSecond, burst: options.burst ?? ratePerSecond * 2, maxSources: options.maxSources ?? 65536 }, clock);
  }

  get trackedSources(): number {
    return this.size;
  }
}
