import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';

/** RFC 8489 §14.4: SHA-256(username ":" realm), exactly 32 bytes. */
export const USERHASH_LENGTH = 32;

export const Userhash = defineCodec<Buffer>({
  type: AttributeType.Userhash,
  name: 'USERHASH',
  size(value) {
    if (!Buffer.isBuffer(value) || value.length !== USERHASH_LENGTH) throw encodeFailure('USERHASH', 'must be a 32-byte Buffer');
    return USERHASH_LENGTH;
  },
  write: (value, target, offset) => void value.copy(target, offset),
  decode(data) {
    if (data.length !== USERHASH_LENGTH) throw new StunDecodeError(`value must be 32 bytes, got ${data.length}`, 0);
    return data;
  },
});

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
