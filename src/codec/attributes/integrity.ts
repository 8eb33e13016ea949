import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import { fixedLengthBytes } from './bytes.js';

/** RFC 8489 §14.5: HMAC-SHA1 is always 20 bytes. */
export const MESSAGE_INTEGRITY_LENGTH = 20;
/** RFC 8489 §14.6: HMAC-SHA256, possibly truncated, 16..32 bytes in steps of 4. */
export const MESSAGE_INTEGRITY_SHA256_MIN_LENGTH = 16;
export const MESSAGE_INTEGRITY_SHA256_LENGTH = 32;
export const FINGERPRINT_LENGTH = 4;

function validSha256Length(length: number): boolean {
  return length >= MESSAGE_INTEGRITY_SHA256_MIN_LENGTH && length <= MESSAGE_INTEGRITY_SHA256_LENGTH && length % 4 === 0;
}

/**
 * The HMAC as received. encodeMessage computes it when given `options.integrity`; an attribute
 * already in the list is written verbatim (useful to forward or re-emit a message unchanged).
 */
export const MessageIntegrity = fixedLengthBytes(AttributeType.MessageIntegrity, 'MESSAGE-INTEGRITY', MESSAGE_INTEGRITY_LENGTH);

export const MessageIntegritySha256 = defineCodec<Buffer>({
  type: AttributeType.MessageIntegritySha256,
  name: 'MESSAGE-INTEGRITY-SHA256',
  size(value) {
    if (!Buffer.isBuffer(value) || !validSha256Length(value.length)) {
      throw encodeFailure('MESSAGE-INTEGRITY-SHA256', 'must be a Buffer of 16..32 bytes, a multiple of 4');
    }
    return value.length;
  },
  write: (value, target, offset) => void value.copy(target, offset),
  decode(data) {
    if (!validSha256Length(data.length)) throw new StunDecodeError(`value must be 16..32 bytes in steps of 4, got ${data.length}`, 0);
    return data;
  },
});

/**
 * The CRC as received (already checked by decodeMessage). encodeMessage always recomputes it,
 * whatever value the attribute carries, and requires it to be the last attribute.
 */
export const Fingerprint = defineCodec<number>({
  type: AttributeType.Fingerprint,
  name: 'FINGERPRINT',
  size: () => FINGERPRINT_LENGTH,
  write: (value, target, offset) => void target.writeUInt32BE(value >>> 0, offset),
  read(bytes, offset, length) {
    if (length !== FINGERPRINT_LENGTH) throw new StunDecodeError(`value must be 4 bytes, got ${length}`, 0);
    return bytes.readUInt32BE(offset);
  },
});

for (const codec of [MessageIntegrity, MessageIntegritySha256, Fingerprint]) registerAttribute(codec);
