import { NtcpError } from '../../errors.js';

/** What one strategy did before the punch gave up: the context a user needs to see why. */
export interface UdpPunchAttempt {
  strategy: string;
  /** Datagrams sent by this strategy (probes and acknowledgements). */
  packetsSent: number;
  /** Distinct remote endpoints probed. */
  targets: number;
}

/**
 * No verified UDP path to the peer: either none can exist between the two NATs (`reason`
 * 'no-path', decided from the profiles before sending anything), or every strategy ran until
 * the deadline (`reason` 'timeout', `cause` a TimeoutError).
 */
export class UdpPunchFailedError extends NtcpError {
  readonly reason: 'no-path' | 'timeout';
  readonly attempts: UdpPunchAttempt[];

  constructor(message: string, reason: 'no-path' | 'timeout', attempts: UdpPunchAttempt[], options?: { cause?: unknown }) {
    super('ERR_PUNCH_FAILED', message, options);
    this.reason = reason;
    this.attempts = attempts;
  }
}

/** `UdpConnection.send` got more bytes than fit one datagram on the path. */
export class DatagramTooLargeError extends NtcpError {
  readonly size: number;
  readonly maxSize: number;

  constructor(size: number, maxSize: number) {
    super('ERR_DATAGRAM_TOO_LARGE', `a datagram of ${size} bytes exceeds the path's maximum of ${maxSize} bytes`);
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** `UdpConnection.send` after the connection closed. */
export class ConnectionClosedError extends NtcpError {
  constructor(message = 'the UDP connection is closed') {
    super('ERR_CONNECTION_CLOSED', message);
  }
}
