/**
 * Synchronised start without synchronised clocks (the idea of libp2p's DCUtR, done by the broker).
 *
 * The broker sends the coordination to both peers at broker time T. Peer X receives it one-way
 * delay d_X = RTT_X / 2 later. Both must send their first packet at the same broker-relative
 * moment T + D, with D = max(d_A, d_B) + margin, so each is told a relative delay
 *     startIn_X = D - d_X
 * measured from when it receives the frame. The margin absorbs jitter: a fixed floor plus twice
 * the larger RTT variation (RFC 6298's RTTVAR), capped so a noisy link cannot stall a connect.
 */

/** Smoothed RTT per RFC 6298 (alpha 1/8, beta 1/4). */
export class RttEstimator {
  srttMs: number | undefined;
  rttVarMs = 0;
  sampledAt = 0;

  sample(rttMs: number, now: number): void {
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
    this.sampledAt = now;
  }

  isFresh(now: number, maxAgeMs: number): boolean {
    return this.srttMs !== undefined && now - this.sampledAt <= maxAgeMs;
  }
}

export interface PathDelay {
  rttMs: number;
  rttVarMs: number;
}

export interface StartPlan {
  initiatorStartInMs: number;
  responderStartInMs: number;
  /** D: broker-relative time (ms after sending) at which both sides start. */
  startAfterSendMs: number;
}

export interface StartOptions {
  /** Floor of the jitter margin. @default 10 */
  minMarginMs?: number;
  /** Cap of the jitter margin. @default 250 */
  maxMarginMs?: number;
}

const DEFAULT_MIN_MARGIN_MS = 10;
const DEFAULT_MAX_MARGIN_MS = 250;
const RTTVAR_FACTOR = 2;

export function planStart(initiator: PathDelay, responder: PathDelay, options: StartOptions = {}): StartPlan {
  const minMargin = options.minMarginMs ?? DEFAULT_MIN_MARGIN_MS;
  const maxMargin = options.maxMarginMs ?? DEFAULT_MAX_MARGIN_MS;
  const oneWayInitiator = initiator.rttMs / 2;
  const oneWayResponder = responder.rttMs / 2;
  const margin = Math.min(maxMargin, minMargin + RTTVAR_FACTOR * Math.max(initiator.rttVarMs, responder.rttVarMs));
  const startAfterSendMs = Math.max(oneWayInitiator, oneWayResponder) + margin;
  return {
    initiatorStartInMs: round(startAfterSendMs - oneWayInitiator),
    responderStartInMs: round(startAfterSendMs - oneWayResponder),
    startAfterSendMs: round(startAfterSendMs),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
