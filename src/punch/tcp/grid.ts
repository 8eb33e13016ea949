import type { PunchRole } from './planner.js';

/** Simultaneous open redials refused targets on this grid (the initiator's period). */
export const SIMULTANEOUS_OPEN_ROUND_MS = 5;
/**
 * The responder's rounds are this much longer than the initiator's (a vernier): whatever the
 * offset between the two peers' synchronised starts, the phase between their SYNs sweeps a whole
 * round in SIMULTANEOUS_OPEN_ROUND_MS / GRID_VERNIER_MS rounds (1.25 s), in steps smaller than
 * the window in which two SYNs cross between RST-answering NATs with no path delay (tens of µs).
 * The broker's start is only as good as each peer's receive time of the coordinate message: under
 * load the two starts were measured 0.3-30 ms apart, and on one shared grid a pair whose offset
 * sat mid-round never crossed in a 3 s slot.
 */
export const GRID_VERNIER_MS = 0.02;
/** The round period of `role` on the simultaneous-open grid. */
export function gridPeriodMs(role: PunchRole): number {
  return role === 'initiator' ? SIMULTANEOUS_OPEN_ROUND_MS : SIMULTANEOUS_OPEN_ROUND_MS + GRID_VERNIER_MS;
}

/** When `role` dials round `round` of a slot starting at `slotStart`. */
export function gridRoundAt(role: PunchRole, slotStart: number, round: number): number {
  return slotStart + round * gridPeriodMs(role);
}

/** The first round not yet past at `now`, and the end (exclusive) of the rounds within `durationMs`. */
export function gridRounds(role: PunchRole, slotStart: number, durationMs: number, now: number): { first: number; end: number } {
  const period = gridPeriodMs(role);
  return { first: Math.max(0, Math.ceil((now - slotStart) / period)), end: Math.floor(durationMs / period) };
}
