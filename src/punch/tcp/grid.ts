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

/**
 * A grid dial that has neither connected nor been refused after this many of the slowest refusal
 * seen from the same target is taken as lost: its socket would wait for its first SYN
 * retransmission (1 s, then 3 s) while the grid cannot dial that target (the same 4-tuple).
 */
export const STALLED_DIAL_REFUSAL_RTTS = 4;
/** Floor of that bound: under load a refusal's callback alone can take tens of ms. */
export const STALLED_DIAL_MIN_MS = 50;
/** Past this a stalled dial is left to its retransmission (nothing gained over the kernel's 1 s). */
export const STALLED_DIAL_MAX_MS = 1000;
/**
 * Consecutive stalled dials after which a side takes a fresh port (and tells its peer): the
 * 4-tuple is stuck. Lab, RST<->RST with no delay under load (2 misses in 48 runs, both so): after
 * one stalled dial, every later SYN of that side from the same port vanished (no RST, no SYN-ACK)
 * for the rest of the slot and the next one, while the peer's SYNs kept being refused; the NATs'
 * connection tracking kept that tuple in a state neither side could clear. A new local port is a
 * new tuple.
 */
export const STALLS_BEFORE_MOVE = 2;
/** Fresh ports one punch takes at most (each costs a STUN probe and a signal). */
export const MAX_PORT_MOVES = 3;

/**
 * How long a grid dial may stay unanswered before it counts as stalled, given the slowest refusal
 * seen from that target so far; undefined (never) before any refusal, when nothing says how fast
 * the path answers.
 */
export function stalledDialMs(slowestRefusalMs: number | undefined): number | undefined {
  if (slowestRefusalMs === undefined) return undefined;
  return Math.min(STALLED_DIAL_MAX_MS, Math.max(STALLED_DIAL_MIN_MS, STALLED_DIAL_REFUSAL_RTTS * slowestRefusalMs));
}
