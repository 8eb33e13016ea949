import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  GRID_VERNIER_MS, SIMULTANEOUS_OPEN_ROUND_MS, STALLED_DIAL_MAX_MS, STALLED_DIAL_MIN_MS, STALLED_DIAL_REFUSAL_RTTS,
  gridPeriodMs, gridRoundAt, gridRounds, stalledDialMs,
} from '../../../src/punch/tcp/grid.js';
import { SIMULTANEOUS_OPEN_STAGE_MS } from '../../../src/punch/tcp/planner.js';

/** When the two roles' SYNs first leave within `withinMs` of each other, their starts `offsetMs` apart. */
function firstCrossing(offsetMs: number, durationMs: number, withinMs: number): number | undefined {
  const initiator = gridRounds('initiator', 0, durationMs, 0);
  const responder = gridRounds('responder', offsetMs, durationMs, offsetMs);
  for (let k = responder.first; k < responder.end; k++) {
    const at = gridRoundAt('responder', offsetMs, k);
    const j = Math.round(at / SIMULTANEOUS_OPEN_ROUND_MS);
    if (j < initiator.first || j >= initiator.end) continue;
    if (Math.abs(at - gridRoundAt('initiator', 0, j)) <= withinMs) return at;
  }
  return undefined;
}

test('the two roles dial on grids of different periods (a vernier)', () => {
  assert.equal(gridPeriodMs('initiator'), SIMULTANEOUS_OPEN_ROUND_MS);
  assert.equal(gridPeriodMs('responder'), SIMULTANEOUS_OPEN_ROUND_MS + GRID_VERNIER_MS);
  assert.ok(GRID_VERNIER_MS > 0 && GRID_VERNIER_MS < 0.05, 'steps must stay inside the µs window in which SYNs cross');
});

test('whatever the offset between the two synchronised starts, two SYNs leave within half a vernier step of each other within one sweep', () => {
  // The lab measured the two peers' starts 0.3-30 ms apart under load; on one shared grid an
  // offset mid-round (2.5 ms) never brought two SYNs closer than 2.5 ms in the whole slot.
  const sweepMs = (SIMULTANEOUS_OPEN_ROUND_MS / GRID_VERNIER_MS) * gridPeriodMs('responder');
  assert.ok(sweepMs < SIMULTANEOUS_OPEN_STAGE_MS / 2, 'a slot holds two sweeps');
  fc.assert(
    fc.property(fc.double({ min: -40, max: 40, noNaN: true }), (offsetMs) => {
      const at = firstCrossing(offsetMs, SIMULTANEOUS_OPEN_STAGE_MS, GRID_VERNIER_MS / 2 + 1e-9);
      assert.ok(at !== undefined, `offset ${offsetMs} ms: no crossing in the slot`);
      assert.ok(at <= sweepMs + Math.abs(offsetMs) + SIMULTANEOUS_OPEN_ROUND_MS, `offset ${offsetMs} ms: first crossing at ${at} ms`);
    }),
    { numRuns: 300 },
  );
});

test('rounds already past are skipped and the last one fits the slot', () => {
  const { first, end } = gridRounds('responder', 100, 3000, 112);
  assert.equal(first, Math.ceil(12 / gridPeriodMs('responder')));
  assert.ok(gridRoundAt('responder', 100, first) >= 112);
  assert.ok(gridRoundAt('responder', 100, end - 1) <= 100 + 3000);
  assert.deepEqual(gridRounds('initiator', 100, 3000, 50), { first: 0, end: 600 });
});

test('a grid dial counts as stalled only once a refusal said how fast the path answers', () => {
  assert.equal(stalledDialMs(undefined), undefined);
  // No path delay: refusals in about a millisecond, but a stall is not declared before the floor.
  assert.equal(stalledDialMs(0.7), STALLED_DIAL_MIN_MS);
  // A 40 ms path: a few of its round trips.
  assert.equal(stalledDialMs(40), STALLED_DIAL_REFUSAL_RTTS * 40);
  // A slow path is left to the kernel's own retransmission.
  assert.equal(stalledDialMs(5000), STALLED_DIAL_MAX_MS);
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 1e5, noNaN: true }), (a, b) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      const bound = stalledDialMs(low)!;
      assert.ok(bound >= STALLED_DIAL_MIN_MS && bound <= STALLED_DIAL_MAX_MS);
      assert.ok(bound >= Math.min(STALLED_DIAL_MAX_MS, low), 'never shorter than the refusal it follows (up to the cap)');
      assert.ok(stalledDialMs(high)! >= bound, 'a slower path never gets a shorter bound');
    }),
  );
});
