/**
 * The error catalogue's root. Every error ntcp throws or rejects with is an NtcpError
 * with a stable string `code` (documented in docs/errors.md; a test enforces it).
 * Codes follow XSTUNT's table where it has one (ERR_TIMEOUT, ERR_MATCH, ERR_SAME_NAT, ...).
 * Each layer declares its own subclasses next to its code, carrying the context a user needs.
 */
export class NtcpError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A long operation ran past its deadline. */
export class TimeoutError extends NtcpError {
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ERR_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller aborted the operation through its AbortSignal. */
export class AbortedError extends NtcpError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** An option or argument given by the caller is invalid. */
export class InvalidArgumentError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}
