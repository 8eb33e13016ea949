import { AttributeType } from '../constants.js';
import { StunDecodeError } from '../errors.js';
import { defineCodec, encodeFailure, registerAttribute } from '../registry.js';

/**
 * RFC 8445 §16.1 ICE attributes. Not used by ntcp itself, but PRIORITY is comprehension-required
 * and appears in RFC 5769's sample request, and ICE agents are common STUN peers.
 */
export const Priority = defineCodec<number>({
  type: AttributeType.Priority,
  name: 'PRIORITY',
  size(value) {
    if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) throw encodeFailure('PRIORITY', `${String(value)} is not in 1..2^32-1`);
    return 4;
  },
  write: (value, target, offset) => void target.writeUInt32BE(value, offset),
  read(bytes, offset, length) {
    if (length !== 4) throw new StunDecodeError(`value must be 4 bytes, got ${length}`, 0);
    return bytes.readUInt32BE(offset);
  },
});

/** Flag attribute: present or absent, empty value. */
export const UseCandidate = defineCodec<true>({
  type: AttributeType.UseCandidate,
  name: 'USE-CANDIDATE',
  size: () => 0,
  write: () => undefined,
  decode(data) {
    if (data.length !== 0) throw new StunDecodeError(`value must be empty, got ${data.length} bytes`, 0);
    return true;
  },
});

function tieBreakerCodec(type: number, name: string) {
  return defineCodec<bigint>({
    type,
    name,
    size(value) {
      if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) throw encodeFailure(name, 'expected a 64-bit unsigned bigint');
      return 8;
    },
    write: (value, target, offset) => void target.writeBigUInt64BE(value, offset),
    read(bytes, offset, length) {
      if (length !== 8) throw new StunDecodeError(`value must be 8 bytes, got ${length}`, 0);
      return bytes.readBigUInt64BE(offset);
    },
  });
}

export const IceControlled = tieBreakerCodec(AttributeType.IceControlled, 'ICE-CONTROLLED');
export const IceControlling = tieBreakerCodec(AttributeType.IceControlling, 'ICE-CONTROLLING');

for (const codec of [Priority, UseCandidate, IceControlled, IceControlling]) registerAttribute(codec);
