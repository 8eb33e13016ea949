import { NtcpError } from '../errors.js';
import type { StunClass } from './constants.js';

/** Bytes that are not a well-formed STUN message; `offset` is where decoding gave up. */
export class StunDecodeError extends NtcpError {
  readonly offset: number;

  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super('ERR_STUN_DECODE', message, options);
    this.offset = offset;
  }
}

/**
 * A well-formed message carrying comprehension-required attributes (type < 0x8000) this codec
 * does not know. It carries the header fields so a server can answer 420 (RFC 8489 §6.3.1.1).
 */
export class StunUnknownAttributesError extends NtcpError {
  readonly unknownAttributes: number[];
  readonly cls: StunClass;
  readonly method: number;
  readonly transactionId: Buffer;
  readonly legacy: boolean;

  constructor(
    header: { cls: StunClass; method: number; transactionId: Buffer; legacy: boolean },
    unknownAttributes: number[],
  ) {
    const list = unknownAttributes.map((type) => `0x${type.toString(16).padStart(4, '0')}`).join(', ');
    super('ERR_STUN_UNKNOWN_ATTRIBUTES', `unknown comprehension-required attributes: ${list}`);
    this.unknownAttributes = unknownAttributes;
    this.cls = header.cls;
    this.method = header.method;
    this.transactionId = header.transactionId;
    this.legacy = header.legacy;
  }
}

/** A message or attribute value that cannot be put on the wire (bad port, bad IP, too long). */
export class StunEncodeError extends NtcpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STUN_ENCODE', message, options);
  }
}
