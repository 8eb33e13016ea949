import type { StunClass } from './constants.js';

export interface TransportAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

export interface StunAttribute {
  type: number;
  /** Decoded by the attribute's codec; a Buffer (a view of the input) when the type is unknown. */
  value: unknown;
  /**
   * Padding bytes as received, kept only when they are not all zero (RFC 5769's vectors pad with
   * spaces), so that re-encoding reproduces the input byte for byte. Zero padding when absent.
   */
  padding?: Buffer;
}

export interface StunMessage {
  cls: StunClass;
  method: number;
  /** 12 bytes; 16 bytes when legacy (RFC 3489: no magic cookie). */
  transactionId: Buffer;
  legacy?: boolean;
  /** In wire order. */
  attributes: StunAttribute[];
}

export interface CodecContext {
  transactionId: Buffer;
  legacy: boolean;
}

/**
 * One attribute type's wire format. `encode`/`decode` are the whole contract; built-in codecs
 * also provide `size` + `write` (and some `read`) so encodeMessage and decodeMessage work in
 * place without a temporary Buffer per attribute.
 */
export interface AttributeCodec<T> {
  readonly type: number;
  readonly name: string;
  encode(value: T, context: CodecContext): Buffer;
  /** Throws StunDecodeError (offset relative to `data`) for a malformed value. */
  decode(data: Buffer, context: CodecContext): T;
  /** Value length in bytes, before padding. Throws StunEncodeError for an invalid value. */
  size?(value: T, context: CodecContext): number;
  /** Writes exactly `size(value)` bytes at `offset`. */
  write?(value: T, target: Buffer, offset: number, context: CodecContext): void;
  /** `decode` reading the value in place (no subarray per attribute); offsets in errors stay relative to the value. */
  read?(bytes: Buffer, offset: number, length: number, context: CodecContext): T;
}
