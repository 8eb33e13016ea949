import { createHmac, timingSafeEqual } from 'node:crypto';
import { AttributeType, HEADER_LENGTH } from './constants.js';
import { ATTRIBUTE_HEADER_LENGTH, isStunMessage, padded } from './header.js';
import {
  MESSAGE_INTEGRITY_LENGTH,
  MESSAGE_INTEGRITY_SHA256_LENGTH,
  MESSAGE_INTEGRITY_SHA256_MIN_LENGTH,
} from './attributes/integrity.js';

/**
 * True when the message carries MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY and one of them
 * is a valid HMAC under `key` (RFC 8489 §14.5/14.6: computed over the message up to the
 * attribute, with the length field adjusted to end at it). Malformed input yields false.
 */
export function checkMessageIntegrity(bytes: Buffer, key: Buffer): boolean {
  if (!isStunMessage(bytes, { allowLegacy: true })) return false;
  let offset = HEADER_LENGTH;
  let valid = false;
  while (offset + ATTRIBUTE_HEADER_LENGTH <= bytes.length && !valid) {
    const type = bytes.readUInt16BE(offset);
    const length = bytes.readUInt16BE(offset + 2);
    const valueOffset = offset + ATTRIBUTE_HEADER_LENGTH;
    if (valueOffset + padded(length) > bytes.length) return false;
    if (type === AttributeType.MessageIntegrity && length === MESSAGE_INTEGRITY_LENGTH) {
      valid = verifyMac(bytes, offset, length, key, 'sha1');
    } else if (type === AttributeType.MessageIntegritySha256 && length >= MESSAGE_INTEGRITY_SHA256_MIN_LENGTH && length <= MESSAGE_INTEGRITY_SHA256_LENGTH && length % 4 === 0) {
      valid = verifyMac(bytes, offset, length, key, 'sha256');
    } else if (type === AttributeType.Fingerprint) {
      break;
    }
    offset = valueOffset + padded(length);
  }
  return valid;
}

function verifyMac(bytes: Buffer, offset: number, length: number, key: Buffer, algorithm: 'sha1' | 'sha256'): boolean {
  const header = Buffer.from(bytes.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(offset + ATTRIBUTE_HEADER_LENGTH + length - HEADER_LENGTH, 2);
  const mac = createHmac(algorithm, key).update(header).update(bytes.subarray(HEADER_LENGTH, offset)).digest();
  return timingSafeEqual(mac.subarray(0, length), bytes.subarray(offset + ATTRIBUTE_HEADER_LENGTH, offset + ATTRIBUTE_HEADER_LENGTH + length));
}
