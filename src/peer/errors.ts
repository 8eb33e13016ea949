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
