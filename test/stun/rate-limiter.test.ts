import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/stun/clock.js';
import { RateLimiter } from '../../src/stun/rate-limiter.js';

test('a source gets its burst, then is refused until tokens refill at the configured rate', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 3 }, clock);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow('10.0.0.1')), [true, true, true, false]);
  clock.advance(99);
  assert.equal(limiter.allow('10.0.0.1'), false);
  clock.advance(1);
  assert.equal(limiter.allow('10.0.0.1'), true);
  assert.equal(limiter.allow('10.0.0.1'), false);
});

test('sources are limited independently', () => {
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1 }, new ManualClock());
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false);
  assert.equal(limiter.allow('b'), true);
});

test('memory stays bounded: beyond maxSources the oldest source is forgotten', () => {
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 2 }, new ManualClock());
  limiter.allow('a');
  limiter.allow('b');
  limiter.allow('c');
  assert.equal(limiter.trackedSources, 2);
  assert.equal(limiter.allow('a'), true, 'a was forgotten and starts with a full bucket');
});
