import { NtcpError, TimeoutError } from '../errors.js';

/** A STUN transaction got no matching response within its retransmission schedule or deadline. */
export class StunTimeoutError extends TimeoutError {
  /** How many times the request was sent before giving up. */
  readonly attempts: number;

  constructor(message: string, timeoutMs: number, attempts: number, options?: { cause?: unknown }) {
    super(message, timeoutMs, options);
    this.attempts = attempts;
  }
}

/** The server answered with a Binding error response (class 0b11), e.g. 400, 401 or 420. */
export class StunErrorResponse extends NtcpError {
  readonly errorCode: number;
  readonly reason: string;
  /** Attribute types the server did not understand (420 only). */
  readonly unknownAttributes: number[];

  constructor(errorCode: number, reason: string, unknownAttributes: number[] = []) {
    super('ERR_STUN_ERROR_RESPONSE', `STUN error response ${errorCode} ${reason}`.trim());
    this.errorCode = errorCode;
    this.reason = reason;
    this.unknownAttributes = unknownAttributes;
  }
}

/** A TCP byte stream did not carry RFC 8489 framed STUN messages (not STUN, or a frame too large). */
export class StunFramingError extends NtcpError {
  /** Bytes of the stream consumed before the bad frame. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('ERR_STUN_FRAMING', message);
    this.offset = offset;
  }
}

/** A response decoded fine but lacks what a Binding success response must carry. */
export class StunBadResponseError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STUN_BAD_RESPONSE', message, options);
  }
}

/** The STUN socket was closed while a transaction was still waiting. */
export class StunSocketClosedError extends NtcpError {
  constructor(message = 'STUN socket closed') {
    super('ERR_STUN_SOCKET_CLOSED', message);
  }
}
