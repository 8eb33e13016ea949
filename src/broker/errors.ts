import { NtcpError } from '../errors.js';

/**
 * Errors of the broker protocol. The same codes travel on the wire in `error` frames; the client
 * turns them back into these classes with `errorFromReply`. Names follow XSTUNT's table
 * (ERR_MATCH, ERR_DUPLICATE_ID, ERR_VERSION, ERR_CONNECT) where it has one.
 */
export class BrokerError extends NtcpError {
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.details = options?.details;
  }
}

export type MatchReason = 'unknown' | 'self' | 'dead' | 'transport';

/** The destination peer cannot be matched: unknown id, the caller itself, dead, or no such transport. */
export class MatchError extends BrokerError {
  readonly peerId: string;
  readonly reason: MatchReason;

  constructor(peerId: string, reason: MatchReason, message = `cannot match peer ${JSON.stringify(peerId)}: ${reason}`) {
    super('ERR_MATCH', message, { details: { peerId, reason } });
    this.peerId = peerId;
    this.reason = reason;
  }
}

export class DuplicateIdError extends BrokerError {
  readonly id: string;

  constructor(id: string) {
    super('ERR_DUPLICATE_ID', `the id ${JSON.stringify(id)} is already registered`, { details: { id } });
    this.id = id;
  }
}

export class VersionError extends BrokerError {
  readonly supported: readonly number[];

  constructor(requested: number, supported: readonly number[]) {
    super('ERR_VERSION', `protocol version ${requested} is not supported (broker speaks ${supported.join(', ')})`, {
      details: { requested, supported },
    });
    this.supported = supported;
  }
}

export class InvalidIdError extends BrokerError {
  constructor(problem: string) {
    super('ERR_INVALID_ID', problem);
  }
}

/** A frame that is not JSON, not a known message, or arrives in the wrong state. */
export class BadMessageError extends BrokerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BAD_MESSAGE', message, options);
  }
}

export class FrameTooLargeError extends BrokerError {
  readonly size: number;
  readonly maxBytes: number;

  constructor(size: number, maxBytes: number) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${maxBytes}`, { details: { size, maxBytes } });
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

export class RateLimitError extends BrokerError {
  constructor(message: string) {
    super('ERR_RATE_LIMIT', message);
  }
}

/** A broker-wide capacity bound is reached (connections, pending coordinations). */
export class LimitError extends BrokerError {
  constructor(message: string) {
    super('ERR_LIMIT', message);
  }
}

/** One of the two peers already has the maximum number of coordinations in progress. */
export class BusyError extends BrokerError {
  readonly peerId: string;

  constructor(peerId: string) {
    super('ERR_BUSY', `peer ${JSON.stringify(peerId)} has too many connections in progress`, { details: { peerId } });
    this.peerId = peerId;
  }
}

export class NotRegisteredError extends BrokerError {
  constructor() {
    super('ERR_NOT_REGISTERED', 'register before connecting or signalling');
  }
}

export class UnauthorizedError extends BrokerError {
  constructor() {
    super('ERR_UNAUTHORIZED', 'the management query needs a valid token');
  }
}

export class UnknownConnectionError extends BrokerError {
  readonly connectionId: string;

  constructor(connectionId: string) {
    super('ERR_UNKNOWN_CONNECTION', `no coordination ${connectionId} involving this peer is in progress`, { details: { connectionId } });
    this.connectionId = connectionId;
  }
}

/** The broker could not be reached (XSTUNT's ERR_CONNECT). */
export class BrokerConnectError extends BrokerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONNECT', message, options);
  }
}

/**
 * The TLS handshake with the broker failed: a certificate the client does not trust or that does
 * not name the host, or a broker that does not speak TLS. `reason` is Node's/OpenSSL's code.
 */
export class BrokerTlsError extends BrokerError {
  readonly reason: string;

  constructor(broker: { host: string; port: number }, cause: Error) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'TLS_HANDSHAKE_FAILED';
    super('ERR_BROKER_TLS', `TLS with broker ${broker.host}:${broker.port} failed (${reason}): ${cause.message}`, { cause, details: { reason } });
    this.reason = reason;
  }
}

/** The connection to the broker dropped while a request was waiting for its answer. */
export class DisconnectedError extends BrokerError {
  constructor(message = 'the connection to the broker was lost', options?: { cause?: unknown }) {
    super('ERR_DISCONNECTED', message, options);
  }
}

/** The client was closed by its owner. */
export class ClientClosedError extends BrokerError {
  constructor() {
    super('ERR_CLOSED', 'the broker client is closed');
  }
}

/** Rebuilds the typed error an `error` frame describes. */
export function errorFromReply(reply: { code: string; message: string; details?: Record<string, unknown> | undefined }): BrokerError {
  const details = reply.details ?? {};
  switch (reply.code) {
    case 'ERR_MATCH':
      return new MatchError(String(details.peerId ?? ''), (details.reason as MatchReason) ?? 'unknown', reply.message);
    case 'ERR_DUPLICATE_ID':
      return new DuplicateIdError(String(details.id ?? ''));
    case 'ERR_VERSION':
      return new VersionError(Number(details.requested), Array.isArray(details.supported) ? details.supported.map(Number) : []);
    case 'ERR_INVALID_ID':
      return new InvalidIdError(reply.message);
    case 'ERR_BAD_MESSAGE':
      return new BadMessageError(reply.message);
    case 'ERR_FRAME_TOO_LARGE':
      return new FrameTooLargeError(Number(details.size), Number(details.maxBytes));
    case 'ERR_RATE_LIMIT':
      return new RateLimitError(reply.message);
    case 'ERR_LIMIT':
      return new LimitError(reply.message);
    case 'ERR_BUSY':
      return new BusyError(String(details.peerId ?? ''));
    case 'ERR_NOT_REGISTERED':
      return new NotRegisteredError();
    case 'ERR_UNAUTHORIZED':
      return new UnauthorizedError();
    case 'ERR_UNKNOWN_CONNECTION':
      return new UnknownConnectionError(String(details.connectionId ?? ''));
    default:
      return new BrokerError(reply.code, reply.message, { details });
  }
}
