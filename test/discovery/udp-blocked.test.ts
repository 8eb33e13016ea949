import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { testIVerdict, UDP_BLOCKED_SILENCE_MS } from '../../src/discovery/udp-blocked.js';

// The rule that turns test I's silence into "UDP blocked": only silence over the whole window.

const outcome = fc.constantFrom('response', 'no-response', 'error') as fc.Arbitrary<'response' | 'no-response' | 'error'>;
const run = fc.record({ outcome, listenedMs: fc.double({ min: 0, max: 10_000, noNaN: true }) });

describe('test I verdict', () => {
  test('silence from both sockets over the whole window is blocked', () => {
    assert.equal(testIVerdict([{ outcome: 'no-response', listenedMs: UDP_BLOCKED_SILENCE_MS }, { outcome: 'no-response', listenedMs: UDP_BLOCKED_SILENCE_MS + 3 }]), 'blocked');
  });

  test('silence over a one-second window (the old deadline, under load) is not enough', () => {
    assert.equal(testIVerdict([{ outcome: 'no-response', listenedMs: 1_000 }, { outcome: 'no-response', listenedMs: 1_001 }]), 'inconclusive');
  });

  test('one socket cut short makes the pair inconclusive', () => {
    assert.equal(testIVerdict([{ outcome: 'no-response', listenedMs: UDP_BLOCKED_SILENCE_MS }, { outcome: 'no-response', listenedMs: 400 }]), 'inconclusive');
  });

  test('an error (e.g. EHOSTUNREACH) is not silence', () => {
    assert.equal(testIVerdict([{ outcome: 'no-response', listenedMs: UDP_BLOCKED_SILENCE_MS }, { outcome: 'error', listenedMs: UDP_BLOCKED_SILENCE_MS }]), 'inconclusive');
  });

  test('no runs is no evidence', () => {
    assert.equal(testIVerdict([]), 'inconclusive');
  });

  test('any answer wins, whatever the other runs saw', () => {
    fc.assert(fc.property(fc.array(run, { maxLength: 3 }), fc.array(run, { maxLength: 3 }), fc.double({ min: 0, max: 10_000, noNaN: true }), (before, after, listenedMs) => {
      assert.equal(testIVerdict([...before, { outcome: 'response', listenedMs }, ...after]), 'answered');
    }));
  });

  test('blocked only ever comes from all-silent runs that each listened the window', () => {
    fc.assert(fc.property(fc.array(run, { maxLength: 4 }), fc.integer({ min: 1, max: 5_000 }), (runs, window) => {
      const blocked = testIVerdict(runs, window) === 'blocked';
      assert.equal(blocked, runs.length > 0 && runs.every((r) => r.outcome === 'no-response' && r.listenedMs >= window));
    }));
  });
});
