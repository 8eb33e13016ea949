import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';
import type { AttributeCodec } from '../types.js';

/** An attribute whose value is opaque bytes of exactly `length` (a hash or an HMAC). */
export function fixedLengthBytes(type: number, name: string, length: number): AttributeCodec<Buffer> {
  return defineCodec<Buffer>({
    type,
    name,
    size(value) {
      if (!Buffer.isBuffer(value) || value.length !== length) throw encodeFailure(name, `must be a ${length}-byte Buffer`);
      return length;
    },
    write: (value, target, offset) => void value.copy(target, offset),
    decode(data) {
      if (data.length !== length) throw new StunDecodeError(`value must be ${length} bytes, got ${data.length}`, 0);
      return data;
    },
  });
}

/** RFC 8489 §14.4: SHA-256(username ":" realm), exactly 32 bytes. */
export const USERHASH_LENGTH = 32;

export const Userhash = fixedLengthBytes(AttributeType.Userhash, 'USERHASH', USERHASH_LENGTH);

/**
 * RFC 5780 §7.6: filler to probe fragmentation; its contents carry no meaning. A server must cap
 * what it echoes back (amplification), which is policy above the codec.
 */
export const Padding = defineCodec<Buffer>({
  type: AttributeType.Padding,
  name: 'PADDING',
  size(value) {
    if (!Buffer.isBuffer(value)) throw encodeFailure('PADDING', 'must be a Buffer');
    return value.length;
  },
  write: (value, target, offset) => void value.copy(target, offset),
  decode: (data) => data,
});

for (const codec of [Userhash, Padding]) registerAttribute(codec);
