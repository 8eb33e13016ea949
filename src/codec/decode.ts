import {
  AttributeType,
  COMPREHENSION_OPTIONAL_MIN,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  MAGIC_COOKIE,
  type StunClass,
} from './constants.js';
import { crc32 } from './crc32.js';
import { StunDecodeError, StunUnknownAttributesError } from './errors.js';
import { ATTRIBUTE_HEADER_LENGTH, hex16, padded } from './header.js';
import { codecFor } from './registry.js';
import type { AttributeCodec, CodecContext, StunAttribute, StunMessage } from './types.js';

export interface DecodeOptions {
  /** Reject RFC 3489 messages (no magic cookie) instead of decoding them as legacy. @default false */
  requireMagicCookie?: boolean;
}

function decodeValue(codec: AttributeCodec<unknown>, bytes: Buffer, valueOffset: number, length: number, context: CodecContext): unknown {
  try {
    if (codec.read !== undefined) return codec.read(bytes, valueOffset, length, context);
    return codec.decode(bytes.subarray(valueOffset, valueOffset + length), context);
  } catch (error) {
    const relative = error instanceof StunDecodeError ? error.offset : 0;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StunDecodeError(`${codec.name} at offset ${valueOffset - ATTRIBUTE_HEADER_LENGTH}: ${reason}`, valueOffset + relative, { cause: error });
  }
}

function hasNonZero(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return true;
  return false;
}

/**
 * Parses one whole STUN message (a datagram, or one framed message from a stream). Attributes
 * after MESSAGE-INTEGRITY(-SHA256) other than those RFC 8489 §14.5/14.6 allow are ignored
 * (dropped); a FINGERPRINT is verified. Buffer values are views of `bytes`, not copies.
 */
export function decodeMessage(bytes: Buffer, options?: DecodeOptions): StunMessage {
  if (!Buffer.isBuffer(bytes)) throw new StunDecodeError('input is not a Buffer', 0);
  if (bytes.length < HEADER_LENGTH) throw new StunDecodeError(`truncated header: ${bytes.length} of 20 bytes`, bytes.length);
  const type = bytes.readUInt16BE(0);
  if ((type & 0xc000) !== 0) throw new StunDecodeError(`first two bits must be zero (type ${hex16(type)})`, 0);
  const length = bytes.readUInt16BE(2);
  if ((length & 3) !== 0) throw new StunDecodeError(`message length ${length} is not a multiple of 4`, 2);
  if (HEADER_LENGTH + length !== bytes.length) {
    throw new StunDecodeError(`message length field says ${length} bytes after the header, ${bytes.length - HEADER_LENGTH} present`, 2);
  }
  const legacy = bytes.readUInt32BE(4) !== MAGIC_COOKIE;
  if (legacy && options?.requireMagicCookie === true) throw new StunDecodeError(`magic cookie 0x${bytes.readUInt32BE(4).toString(16)} is not 0x2112a442`, 4);
  const cls = (((type >>> 4) & 1) | ((type >>> 7) & 2)) as StunClass;
  const method = (type & 0x000f) | ((type >>> 1) & 0x0070) | ((type >>> 2) & 0x0f80);
  const transactionId = legacy ? bytes.subarray(4, HEADER_LENGTH) : bytes.subarray(8, HEADER_LENGTH);
  const context: CodecContext = { transactionId, legacy };
  const attributes: StunAttribute[] = [];
  let unknown: number[] | undefined;
  let afterIntegrity = false;
  let afterIntegritySha256 = false;
  let offset = HEADER_LENGTH;
  // The length field is a multiple of 4 and so is every padded attribute: a whole attribute
  // header always fits at `offset`.
  while (offset < bytes.length) {
    const attributeType = bytes.readUInt16BE(offset);
    const valueLength = bytes.readUInt16BE(offset + 2);
    const valueOffset = offset + ATTRIBUTE_HEADER_LENGTH;
    const end = valueOffset + padded(valueLength);
    if (end > bytes.length) {
      throw new StunDecodeError(`attribute ${hex16(attributeType)} at offset ${offset} has length ${valueLength}, which overruns the message`, offset + 2);
    }
    if (attributeType === AttributeType.Fingerprint) {
      if (end !== bytes.length) throw new StunDecodeError(`attribute after FINGERPRINT at offset ${end}`, end);
      const received = decodeValue(codecFor(attributeType)!, bytes, valueOffset, valueLength, context) as number;
      const expected = (crc32(bytes, 0, offset) ^ FINGERPRINT_XOR) >>> 0;
      if (received !== expected) {
        throw new StunDecodeError(`FINGERPRINT mismatch: 0x${received.toString(16).padStart(8, '0')}, expected 0x${expected.toString(16).padStart(8, '0')}`, valueOffset);
      }
      attributes.push({ type: attributeType, value: received });
      break;
    }
    const ignored =
      afterIntegritySha256 || (afterIntegrity && attributeType !== AttributeType.MessageIntegritySha256);
    if (!ignored) {
      const codec = codecFor(attributeType);
      let value: unknown;
      if (codec !== undefined) value = decodeValue(codec, bytes, valueOffset, valueLength, context);
      else if (attributeType < COMPREHENSION_OPTIONAL_MIN) (unknown ??= []).push(attributeType);
      else value = bytes.subarray(valueOffset, valueOffset + valueLength);
      const entry: StunAttribute = { type: attributeType, value };
      if (hasNonZero(bytes, valueOffset + valueLength, end)) entry.padding = bytes.subarray(valueOffset + valueLength, end);
      if (codec !== undefined || attributeType >= COMPREHENSION_OPTIONAL_MIN) attributes.push(entry);
      if (attributeType === AttributeType.MessageIntegrity) afterIntegrity = true;
      if (attributeType === AttributeType.MessageIntegritySha256) afterIntegritySha256 = true;
    }
    offset = end;
  }
  if (unknown !== undefined) throw new StunUnknownAttributesError({ cls, method, transactionId, legacy }, unknown);
  const message: StunMessage = { cls, method, transactionId, attributes };
  if (legacy) message.legacy = true;
  return message;
}
