import { NtcpError } from '../errors.js';

/** Learning the NAT behaviour failed while registering (XSTUNT's ERR_PROBE); `cause` says why. */
export class ProbeError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROBE', message, options);
  }
}

/** The peer was closed (deregistered) by its owner, or the broker refused it for good. */
export class PeerClosedError extends NtcpError {
  constructor(message = 'the peer is closed', options?: { cause?: unknown }) {
    super('ERR_CLOSED', message, options);
  }
}

/** `relay: 'force'` but the broker offered no relay session for this connection. */
export class RelayUnavailableError extends NtcpError {
  constructor(message = 'the broker offered no relay for this connection', options?: { cause?: unknown }) {
    super('ERR_RELAY_UNAVAILABLE', message, options);
  }
}

/**
 * A UDP connection needs the relay: this peer's or the other peer's NAT profile says UDP is
 * blocked, so no direct UDP path can exist, and the dialler chose relay 'never' (or no relay was offered).
 */
export class UdpBlockedError extends NtcpError {
  /** Whose UDP is blocked. */
  readonly side: 'local' | 'remote';

  constructor(side: 'local' | 'remote', options?: { cause?: unknown }) {
    super('ERR_UDP_BLOCKED', `${side === 'local' ? 'this host' : 'the other peer'} cannot send or receive UDP: a UDP connection needs the relay (relay 'auto' or 'force')`, options);
    this.side = side;
  }
}
