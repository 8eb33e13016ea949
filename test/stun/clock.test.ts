import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoarseClock, ManualClock } from '../../src/stun/clock.js';

test('a coarse clock moves in steps of its resolution and stops refreshing when stopped', () => {
  const inner = new ManualClock();
  const coarse = new CoarseClock(inner, 10);
  inner.advance(9);
  assert.equal(coarse.now(), 0);
  inner.advance(1);
  assert.equal(coarse.now(), 10);
  inner.advance(25);
  assert.equal(coarse.now(), 30);
  coarse.stop();
  assert.equal(inner.pending, 0);
});

test('the manual clock fires due timers in time order, and only those', () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 20);
  clock.setTimeout(() => fired.push('a'), 10);
  const cancelled = clock.setTimeout(() => fired.push('x'), 15);
  clock.clearTimeout(cancelled);
  clock.advance(19);
  assert.deepEqual(fired, ['a']);
  clock.advance(1);
  assert.deepEqual(fired, ['a', 'b']);
});
