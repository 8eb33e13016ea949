import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceRateLimiter, TokenBucket } from '../../src/util/token-bucket.js';

class CountingClock {
  time = 0;
  reads = 0;
  now(): number {
    this.reads++;
    return this.time;
  }
}

test('a bucket refuses a take it cannot cover and keeps its tokens', () => {
  const clock = new CountingClock();
  const bucket = new TokenBucket(10, 3, clock);
  assert.equal(bucket.tryTake(4), false);
  assert.equal(bucket.tryTake(3), true, 'the refused take left the burst whole');
  assert.equal(bucket.tryTake(1), false);
  clock.time = 100;
  assert.equal(bucket.tryTake(1), true, '10/s refills one token in 100 ms');
});

test('a time passed by the caller is used instead of reading the clock', () => {
  const clock = new CountingClock();
  const bucket = new TokenBucket(1000, 1, clock, 0);
  assert.equal(clock.reads, 0);
  assert.equal(bucket.tryTake(1, 0), true);
  assert.equal(bucket.tryTake(1, 1), true, 'the given time, not the clock (still 0), refilled it');
  assert.equal(clock.reads, 0);
});

test('the per-source limiter reads the clock once per decision, also for a new source', () => {
  const clock = new CountingClock();
  const limiter = new SourceRateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 2 }, clock);
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false);
  assert.equal(clock.reads, 2);
});
