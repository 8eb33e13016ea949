import { NtcpError } from '../../errors.js';
import type { TcpMethod } from './planner.js';

/** One strategy the engine tried, and how it ended. */
export interface TcpPunchAttempt {
  method: TcpMethod | 'none';
  /** Index of the stage in the plan. */
  stage: number;
  outcome: 'connected' | 'failed' | 'skipped';
  reason: string;
  /** TCP connects (SYNs opened by a connect call) made during the stage. */
  dials: number;
  elapsedMs: number;
}

/**
 * No verified TCP connection to the peer (same code as the UDP puncher's PunchFailedError):
 * `reason` 'no-path' (decided from the profiles before any SYN), 'exhausted' (every planned
 * strategy failed) or 'timeout' (the deadline cut in; `cause` a TimeoutError).
 */
export class TcpPunchFailedError extends NtcpError {
  readonly reason: 'no-path' | 'exhausted' | 'timeout';
  readonly attempts: readonly TcpPunchAttempt[];

  constructor(message: string, reason: TcpPunchFailedError['reason'], attempts: readonly TcpPunchAttempt[], options?: { cause?: unknown }) {
    super('ERR_PUNCH_FAILED', message, options);
    this.reason = reason;
    this.attempts = attempts;
  }
}

/** A TCP connection failed the per-connection proof: a stray, a wrong peer, or garbage. */
export class TcpVerificationError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TCP_VERIFICATION', message, options);
  }
}
