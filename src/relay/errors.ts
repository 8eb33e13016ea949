import { NtcpError } from '../errors.js';

/**
 * Why the relay refused or ended an attach. The wire carries the status byte; the client turns it
 * into the matching `code` so callers can tell a wrong token from a full server.
 */
export const AttachStatus = {
  Ok: 0,
  TokenInvalid: 1,
  TokenUsed: 2,
  TokenExpired: 3,
  PeerTimeout: 4,
  RateLimited: 5,
  Capacity: 6,
  TransportMismatch: 7,
  BadRequest: 8,
  SessionClosed: 9,
  /** UDP only: the token is good, the other peer has not attached yet. */
  Waiting: 10,
} as const;
export type AttachStatus = (typeof AttachStatus)[keyof typeof AttachStatus];

const STATUS_CODES: Record<number, { code: string; message: string }> = {
  [AttachStatus.TokenInvalid]: { code: 'ERR_RELAY_TOKEN_INVALID', message: 'relay token is not valid for any session' },
  [AttachStatus.TokenUsed]: { code: 'ERR_RELAY_TOKEN_USED', message: 'relay token was already used' },
  [AttachStatus.TokenExpired]: { code: 'ERR_RELAY_TOKEN_EXPIRED', message: 'relay token expired' },
  [AttachStatus.PeerTimeout]: { code: 'ERR_RELAY_PEER_TIMEOUT', message: 'the other peer did not attach to the relay session in time' },
  [AttachStatus.RateLimited]: { code: 'ERR_RELAY_RATE_LIMITED', message: 'too many relay attach attempts from this address' },
  [AttachStatus.Capacity]: { code: 'ERR_RELAY_CAPACITY', message: 'relay is at capacity' },
  [AttachStatus.TransportMismatch]: { code: 'ERR_RELAY_TRANSPORT_MISMATCH', message: 'the relay session was attached over the other transport' },
  [AttachStatus.BadRequest]: { code: 'ERR_RELAY_PROTOCOL', message: 'relay rejected a malformed attach message' },
  [AttachStatus.SessionClosed]: { code: 'ERR_RELAY_SESSION_CLOSED', message: 'relay session already ended' },
};

/** The relay answered an attach with an error status (or the attach exchange broke down). */
export class RelayAttachError extends NtcpError {
  readonly status: number | undefined;

  constructor(code: string, message: string, options?: { status?: number; cause?: unknown }) {
    super(code, message, options);
    this.status = options?.status;
  }

  static fromStatus(status: number): RelayAttachError {
    const known = STATUS_CODES[status];
    if (known) return new RelayAttachError(known.code, known.message, { status });
    return new RelayAttachError('ERR_RELAY_PROTOCOL', `relay answered with unknown status ${status}`, { status });
  }
}

/** The relay cannot take another session (`createSession` while at `maxSessions`). */
export class RelayCapacityError extends NtcpError {
  readonly maxSessions: number;

  constructor(maxSessions: number) {
    super('ERR_RELAY_CAPACITY', `relay is at capacity (${maxSessions} sessions)`);
    this.maxSessions = maxSessions;
  }
}

/** The relay connection closed or failed before the attach completed. */
export class RelayClosedError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RELAY_CLOSED', message, options);
  }
}

/**
 * The kernel splice engine cannot be used: the addon is not built or did not load (when it was
 * asked for), or it could not take over one session's sockets (that session then uses the JS engine).
 */
export class RelaySpliceError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown; code?: 'ERR_RELAY_SPLICE' | 'ERR_RELAY_SPLICE_UNAVAILABLE' }) {
    super(options?.code ?? 'ERR_RELAY_SPLICE', message, options);
  }
}
