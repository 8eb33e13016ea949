/**
 * A monotonic clock in milliseconds; injected so rate and timeout logic is tested with a manual
 * clock instead of sleeps. Layers that also schedule timers extend it (see src/stun/clock.ts).
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Wall-clock milliseconds, for components whose timestamps also go on the wire (the broker). */
export const wallClock: Clock = { now: () => Date.now() };
