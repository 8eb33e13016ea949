import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { GRID_VERNIER_MS, SIMULTANEOUS_OPEN_ROUND_MS, gridPeriodMs, gridRoundAt, gridRounds } from '../../../src/punch/tcp/grid.js';
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
