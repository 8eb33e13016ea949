import net from 'node:net';
import { NtcpError } from '../../errors.js';

/** The TURN server answered a request with an error response (RFC 8656 §19 codes). */
export class TurnErrorResponse extends NtcpError {
  readonly errorCode: number;
  readonly reason: string;
  readonly method: string;

  constructor(method: string, errorCode: number, reason: string) {
    super('ERR_TURN_ERROR_RESPONSE', `TURN ${method} failed: ${errorCode} ${reason}`.trim());
    this.method = method;
    this.errorCode = errorCode;
    this.reason = reason;
  }
}

/** The TURN server refused our credentials (401 after authenticating, or 441 Wrong Credentials). */
export class TurnAuthError extends NtcpError {
  readonly errorCode: number;

  constructor(errorCode: number, reason: string) {
    super('ERR_TURN_AUTH', `TURN server rejected the credentials: ${errorCode} ${reason}`.trim());
    this.errorCode = errorCode;
  }
}

/** The TURN control connection closed, a response was malformed, or the client was closed. */
export class TurnClosedError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TURN_CLOSED', message, options);
  }
}

/** A TURN response lacked what RFC 8656 requires (e.g. a success Allocate without XOR-RELAYED-ADDRESS). */
export class TurnProtocolError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TURN_PROTOCOL', message, options);
  }
}

/**
 * The TLS handshake with a `turns:` server failed: most often its certificate is not trusted (no
 * `ca` for a private CA) or does not name the host. `reason` is Node's or OpenSSL's code.
 */
export class TurnTlsError extends NtcpError {
  readonly reason: string;
  readonly server: string;

  constructor(server: { host: string; port: number }, cause: Error) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'TLS_HANDSHAKE_FAILED';
    const where = net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
    super('ERR_TURN_TLS', `TLS with TURN server ${where} failed (${reason}): ${cause.message}`, { cause });
    this.reason = reason;
    this.server = where;
  }
}
